"""The shopkpi dashboard: page configuration and routing only; each page lives in pages/.

Run with `shopkpi serve` (or `streamlit run app.py`); the warehouse path comes from `SHOPKPI_DB` or shopkpi.toml.
"""

import streamlit as st

st.set_page_config(page_title="shopkpi", page_icon=":material/monitoring:", layout="wide")

# Add a page here: its file, its title in the sidebar, and a Material icon. Pages not listed cannot be reached.
PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
]

st.navigation(PAGES).run()
