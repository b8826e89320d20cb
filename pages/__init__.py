"""The dashboard's pages: one module each, run by Streamlit through app.py."""
