"""The Lesson: the guided path (its stops and one-click experiments) beside the run's controls, grid and
diagnosis, so a preset's effect is seen where it is explained; then one step in slow motion."""
import streamlit as st

from studio import frame
from studio.frame import _
from studio.panels import compare, curves, grid, lesson, live, slow_motion


def live_body(s, snap, figures) -> None:
    grid.grid_ui(s, snap, figures)
    curves.diagnosis_ui(snap, figures)


s = frame.shown_run()
st.markdown("### " + _("Guided experiments"))
run_place, lesson_place = st.columns([5, 6], gap="large")
with run_place:
    live.live_ui(s, live_body, narrow=True)
with lesson_place:
    lesson.lesson_ui(s)
st.divider()
compare.compare_ui(s)
st.divider()
with st.container(key="slow_motion"):
    slow_motion.slow_motion_ui(s, s.snapshot())
