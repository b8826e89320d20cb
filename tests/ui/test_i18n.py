"""Text from the data shown inside markdown (source names, campaigns, user names) reads literally."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shopkpi.ui.i18n import md

# CommonMark: a backslash before ASCII punctuation stands for that character.
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@given(st.text())
def test_escaped_text_reads_as_the_same_characters(text: str) -> None:
    escaped = md(text)
    assert UNESCAPE.sub(r"\1", escaped) == text.replace("\n", " ")
    # No markdown construct survives: every character markdown gives a meaning to is preceded by a backslash.
    assert not re.search(r"(?<!\\)(?:\\\\)*[`*_\[\]()<>!:$~|#]", escaped.replace("\\\\", ""))


def test_a_hostile_source_name_becomes_plain_text() -> None:
    # "www." and "https:" no longer start a link once their dot and colon are escaped.
    assert md("![x](https://tracker.example/p?u=1)") == r"\!\[x\]\(https\://tracker\.example/p?u=1\)"
    assert md(":red[URGENT] :material/warning:") == r"\:red\[URGENT\] \:material/warning\:"
    assert md("google / cpc") == "google / cpc"


def test_an_alert_reads_in_chinese_from_its_facts() -> None:
    from metrics.segments import ALL
    from pages.forecast import alert_text
    from shopkpi.ui import View

    zh = View(period=None, comparison="previous", segment=ALL, lang="zh", latest=None)
    row = {
        "metric": "total_revenue",
        "group": None,
        "direction": "up",
        "change": 0.42,
        "value": 5300.5,
        "expected": 3733.0,
        "event": "双11",
        "driver_dimension": "source",
        "driver": "kol_[x](y)",
        "driver_contribution": 1200.0,
        "message": "Total revenue up +42%: …",
    }
    assert alert_text(row, zh) == (
        r"总收入高于预期 +42%：5,300.50，预期 3,733.00（双11）；主要来自来源 kol\_\[x\]\(y\)（贡献 1,200.00）。"
    )
    row |= {"metric": "sessions", "group": "source=social", "direction": "down", "change": -0.42, "value": 1200.0}
    row |= {"expected": 2069.0, "event": None, "driver": "social", "driver_contribution": None}
    assert alert_text(row, zh) == "访问次数（source=social）低于预期 -42%：1,200，预期 2,069；出现在来源 social。"
    en = View(period=None, comparison="previous", segment=ALL, lang="en", latest=None)
    assert alert_text(row, en) == r"Total revenue up \+42%\: …"  # the sentence metrics.anomalies wrote, escaped


def test_where_the_month_target_comes_from_reads_in_chinese() -> None:
    from types import SimpleNamespace

    from metrics.segments import ALL
    from pages.forecast import target_source
    from shopkpi.ui import View

    zh = View(period=None, comparison="previous", segment=ALL, lang="zh", latest=None)
    none = SimpleNamespace(metric="orders", target=None, target_source="no target: set monthly_orders in …")
    assert target_source(none, zh) == "无目标：请在目标文件中设置 monthly_orders（一年前没有完整的同月数据）"
    own = SimpleNamespace(metric="orders", target=900.0, target_source="monthly_orders in the targets file")
    assert target_source(own, zh) == "目标文件中的 monthly_orders"
    grown = SimpleNamespace(metric="orders", target=990.0, target_source="2025-11 × (1 + 10%)")
    assert target_source(grown, zh) == "2025-11 × (1 + 10%)"
