"""The shopkpi dashboard: page configuration and routing only; each page lives in pages/.

Run with `shopkpi serve` (or `streamlit run app.py`); the warehouse path comes from `SHOPKPI_DB` or shopkpi.toml.
"""

import streamlit as st

from shopkpi import auth, ui
from shopkpi.ui import signin, warmup

st.set_page_config(page_title="shopkpi", page_icon=":material/monitoring:", layout="wide")

# Add a page here: its file, its title in English and Chinese, and a Material icon. Pages not listed cannot be
# reached. The first one is the home page. Which roles may open each page: shopkpi/auth.py PAGE_ROLES.
PAGES = [
    ("pages/overview.py", "Overview", "概览", ":material/dashboard:"),
    ("pages/traffic.py", "Traffic", "流量", ":material/travel_explore:"),
    ("pages/customers.py", "Customers", "客户", ":material/group:"),
    ("pages/products.py", "Products & stock", "商品与库存", ":material/inventory_2:"),
    ("pages/pnl.py", "P&L", "损益", ":material/account_balance:"),
    ("pages/forecast.py", "Forecast", "预测", ":material/trending_up:"),
    ("pages/reports.py", "Reports", "报告", ":material/summarize:"),
    ("pages/data.py", "Data", "数据", ":material/database:"),
]

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
    st.Page(path, title=ui.t(en, zh), icon=icon, default=index == 0)
    for index, (path, en, zh, icon) in enumerate(PAGES)
    if auth.may_open(role, path)
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
