"""Customers page."""

import streamlit as st

from shopkpi import ui


def render(current: ui.View) -> None:
    st.write("")


ui.run_page("Customers", "客户", render)
