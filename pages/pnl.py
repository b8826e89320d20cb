"""P&L page."""

import streamlit as st

from shopkpi import ui


def render(current: ui.View) -> None:
    st.write("")


ui.run_page("P&L", "损益", render)
