"""GAN Studio's pages (studio/pages) and the panels they are made of (studio/panels).

app.py is the frame: it declares the pages with st.navigation. A page lays out panels; a panel draws one
thing (the controls, the grid, a tab) with small *_ui functions; frame.py holds what every panel shares
(the visitor's language, messages, refusals, uploads read once, widgets in step with the run). Pages
never import each other, and nothing in gan_core imports this package.
"""
