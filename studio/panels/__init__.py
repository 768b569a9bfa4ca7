"""The panels the pages are made of: one module each, small *_ui functions that draw and return values."""
