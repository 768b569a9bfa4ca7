"""Files: downloads of the run (grid, checkpoint, metrics), a checkpoint to continue from, own images to
train on. The owner's page: a viewer is not offered it."""
import streamlit as st

from studio import frame
from studio.frame import _
from studio.panels import files

st.markdown("### " + _("Files"))
files.files_ui(frame.shown_run())
