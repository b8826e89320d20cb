"""AppTest of the Service page: its cards are metrics/service.py's figures in English and Chinese, the response trend
has the 30-minute target line, returns by reason / category / product, and a shop without tickets or returns says so
in words instead of showing zeros."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.periods import Period
from metrics.service import SERVICE_METRICS, returns_by, service_kpis
from tests.support.app import no_failure, open_app, shown_text, vega_charts
from tests.support.customer_shop import customer_shop
from tests.support.demo import END
from warehouse import open_read_only

JUNE = Period(date(2024, 6, 1), END)  # the default view of the demo shop: June 2024


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_cards_trends_and_returns_in_both_languages(demo_db, monkeypatch, lang) -> None:
    at = open_app(demo_db, monkeypatch, "service", lang=lang)
    no_failure(at)
    with open_read_only(demo_db) as con:
        expected = service_kpis(con, JUNE)
        by_reason = returns_by(con, JUNE, "reason")
    cards = {m.label: m.value for m in at.metric}
    assert cards == {m.label(lang): m.formats.text(expected[m.name]) for m in SERVICE_METRICS}
    assert expected["tickets"] > 0 and expected["return_rate"] > 0  # the demo shop has tickets and returns
    heading = {"en": "Returns", "zh": "退货"}[lang]
    assert heading in shown_text(at)
    reasons = next(frame.value for frame in at.dataframe if "reason" in frame.value.columns)
    assert reasons["returned_units"].to_list() == by_reason["returned_units"].to_list()
    spec, _ = vega_charts(at)[0]  # the first-response trend
    rules = [
        layer["data"]["values"][0]["value"] for layer in spec["layer"] if layer.get("mark", {}).get("type") == "rule"
    ]
    assert rules == [30]  # the guide's first-response target


def test_a_shop_without_tickets_or_returns_says_so(tmp_path, monkeypatch) -> None:
    db = customer_shop(tmp_path / "w.duckdb")  # orders only
    at = open_app(db, monkeypatch, "service")
    no_failure(at)
    text = shown_text(at)
    assert "No service tickets loaded yet" in text and "No returns loaded yet" in text
    assert {m.value for m in at.metric} == {"—"}  # null, not 0, where the input was never given
