"""The shopkpi dashboard: page configuration and routing only; each page lives in pages/.

Run with `shopkpi serve` (or `streamlit run app.py`); the warehouse path comes from `SHOPKPI_DB` or shopkpi.toml.
"""

import streamlit as st

from pages import HOME, PAGES  # the page list (files, titles, icons, roles): add a page there
from shopkpi import auth, ui
from shopkpi.ui import signin, warmup

st.set_page_config(page_title="shopkpi", page_icon=":material/monitoring:", layout="wide")

try:
    role = signin.role()  # auth.OPEN without a users file (demo mode); None until someone signs in
except signin.SignInUnavailable as problem:  # sign-in required but impossible: show that, never run open
    signin.unavailable_page(str(problem))
if role is None:
    # Only the sign-in page is routed: a link to any other page lands here, and nothing else can be reached.
    st.navigation([st.Page(signin.sign_in_page, title="Sign in", icon=":material/login:", url_path="signin")]).run()
    st.stop()

# Built per run from the role: a page the role may not open is not routed, so its URL does not reach it either.
routed = [
    st.Page(entry.file, title=ui.t(entry.title_en, entry.title_zh), icon=entry.icon, default=entry is HOME)
    for entry in PAGES
    if auth.may_open(role, entry.roles)
]
page = st.navigation(routed)
wanted = signin.wanted_page()  # a link followed before sign-in opens its page now, if this role may see it
if wanted and page.url_path != wanted and any(p.url_path == wanted for p in routed):
    st.switch_page(next(p for p in routed if p.url_path == wanted))
signin.account_box(role)  # who is signed in and "Sign out"; in demo mode the banner
with warmup.visit():  # the background warm-up gives way while a page is being drawn
    ui.sidebar()  # shared by every page: period, comparison, filters, language (mirrored in the URL)
    page.run()
warmup.start()  # once per warehouse file: every page's default view computed in the background (shopkpi/ui/warmup.py)
