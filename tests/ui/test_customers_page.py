"""AppTest of the Customers page's segments, movement, repeat interval and lifetime value on the small demo shop, in
English and Chinese, and of who may download a segment's customer ids (shopkpi/auth.py CUSTOMER_ID_ROLES)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from metrics.customers import SEGMENTS, lifetime_value, segment_summary
from metrics.registry import format_value
from shopkpi import auth
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import signin
from tests.support.app import no_failure, open_app, shown_text
from tests.support.demo import END
from warehouse import open_read_only

HEADINGS = {
    "en": ["Cohort retention", "Repeat purchase interval", "Customer lifetime value", "Customer segments (RFM)"],
    "zh": ["同期群留存", "复购间隔", "客户终身价值", "客户分群（RFM）"],
}
SINCE = date(2024, 5, 31)  # the default view: June 2024 compared with May, whose last day the movement starts from


def segments_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "customer_share" in frame.value.columns)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_segments_repeat_and_ltv_are_shown_in_both_languages(demo_db, monkeypatch, lang) -> None:
    at = open_app(demo_db, monkeypatch, "customers", lang=lang)
    no_failure(at)
    text = shown_text(at)
    for heading in HEADINGS[lang]:
        assert heading in text
    with open_read_only(demo_db) as con:
        expected = segment_summary(con, END, SINCE)
        ltv = lifetime_value(con, END)
    table = segments_table(at)
    labels = [s.label_zh if lang == "zh" else s.label_en for s in SEGMENTS]
    assert table["label"].to_list() == labels  # one row per segment, best first, in the page's language
    assert table["customers"].to_list() == expected["customers"].to_list()
    assert table["change"].to_list() == expected["change"].to_list()
    assert sum(table["customers"].to_list()) > 0
    observed = ltv.filter(ltv["cohort"] == "all")["observed_ltv"][0]
    assert format_value("net_sales", observed) in [m.value for m in at.metric]


def _as(role: str, demo_db, monkeypatch, tmp_path) -> AppTest:
    users = tmp_path / "users.toml"
    auth.add_user(users, "someone", "correct horse battery", role)
    monkeypatch.setenv("SHOPKPI_DB", str(demo_db))
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    for name in ("SHOPKPI_CONFIG", "SHOPKPI_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.session_state[signin.SESSION_KEY] = {"username": "someone", "role": role, "signed_in_at": time.time()}
    at.run()
    at.switch_page("pages/customers.py").run()
    no_failure(at)
    return at


@pytest.mark.parametrize("role", auth.ROLES)
def test_only_roles_that_may_see_customer_ids_get_the_download(demo_db, monkeypatch, tmp_path, role) -> None:
    at = _as(role, demo_db, monkeypatch, tmp_path)
    downloads = [b.label for b in at.get("download_button")]
    assert "Customer segments (RFM)" in shown_text(at)  # everyone sees the segments' sizes
    if role in auth.CUSTOMER_ID_ROLES:
        assert downloads == ["Download ids (CSV)"]
    else:
        assert downloads == []
        assert "Customer ids are shown to the operations, analyst and admin roles only." in shown_text(at)
