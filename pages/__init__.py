"""The dashboard's pages: one module each, and PAGES, the one list of them (file, titles, icon, who may open it, the
warm-up's order) that app.py, the role checks, the warm-up, the page benchmark and the tests read.

A page module draws itself only when Streamlit runs it (`if __name__ == "__main__":`); imported, it only defines its
functions. Each page with queries has `data(view, role)`, which returns everything the page draws for that view,
each result through `ui.load`: the page's render calls it, and so does the warm-up (shopkpi/ui/warmup.py), so the
warm-up computes exactly what a first visit asks for. Widgets that change a page's queries (e.g. the Traffic page's
split) are keyword arguments of `data` whose defaults are the widgets' defaults.

This module is plain data (no Streamlit), so anything may read the list without starting the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from shopkpi.auth import ALL_ROLES, PROFIT_ROLES


@dataclass(frozen=True)
class Page:
    """One page of the dashboard."""

    file: str  # relative to app.py's folder, as st.Page wants it
    title_en: str
    title_zh: str
    icon: str  # a Material icon, ":material/name:"
    roles: frozenset[str]  # who may open it (shopkpi/auth.py); others neither see it in the menu nor reach its URL
    warm: int | None = None  # its place in the warm-up's order (1 first), None when it has no data(view, role)

    @property
    def module(self) -> str:
        """The page's module, e.g. "pages.overview"."""
        return PurePath(self.file).with_suffix("").as_posix().replace("/", ".")

    @property
    def url_path(self) -> str:
        """Streamlit's URL path of the page (its file name); the home page is also served at "/"."""
        return PurePath(self.file).stem


# In menu order; the first is the home page. Warm-up order: the home page first, the slowest (Forecast: a backtest
# of three models) last; the Reports page builds its files on click and has nothing to warm.
PAGES = (
    Page("pages/overview.py", "Overview", "概览", ":material/dashboard:", ALL_ROLES, warm=1),
    Page("pages/traffic.py", "Traffic", "流量", ":material/travel_explore:", ALL_ROLES, warm=2),
    Page("pages/customers.py", "Customers", "客户", ":material/group:", ALL_ROLES, warm=3),
    Page("pages/products.py", "Products & stock", "商品与库存", ":material/inventory_2:", ALL_ROLES, warm=4),
    Page("pages/pnl.py", "P&L", "损益", ":material/account_balance:", PROFIT_ROLES, warm=5),
    # Service figures are for operations first; they hold no profit figure and no customer id, so every role sees them.
    Page("pages/service.py", "Service & returns", "客服与售后", ":material/support_agent:", ALL_ROLES, warm=7),
    Page("pages/forecast.py", "Forecast", "预测", ":material/trending_up:", ALL_ROLES, warm=8),
    # The reports carry net profit and margins.
    Page("pages/reports.py", "Reports", "报告", ":material/summarize:", PROFIT_ROLES),
    Page("pages/data.py", "Data", "数据", ":material/database:", ALL_ROLES, warm=6),
)
HOME = PAGES[0]


def page(file: str) -> Page:
    """The entry of a page file, given as in PAGES ("pages/pnl.py") or as a page module's own `__file__`."""
    name = PurePath(file).name
    for entry in PAGES:
        if PurePath(entry.file).name == name:
            return entry
    raise KeyError(f"{file} is not a page of pages.PAGES")


def warmed() -> tuple[Page, ...]:
    """The pages the warm-up computes, in its order."""
    return tuple(sorted((p for p in PAGES if p.warm is not None), key=lambda p: p.warm))
