"""The smallest Streamlit page: one Start button, served with the studio's own .streamlit/config.toml.
benchmarks/visitor.py measures its first paint beside the studio's, in the same run and browser."""
import streamlit as st

st.button("Start", key="start")
