"""Products & stock page."""

import streamlit as st

from shopkpi import ui


def render(current: ui.View) -> None:
    st.write("")


ui.run_page("Products & stock", "商品与库存", render)
