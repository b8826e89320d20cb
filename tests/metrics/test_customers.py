"""Customer figures (metrics/customers.py): RFM scores, segments and movement, repeat interval and lifetime value,
worked out by hand on the tiny shop of tests/support/customer_shop.py, and the RFM scores and segment sizes of the
real UCI Online Retail import recomputed independently in plain Python from the raw CSV."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics.customers import (
    SEGMENTS,
    lifetime_value,
    repeat_interval,
    rfm_scores,
    segment_changes,
    segment_customer_ids,
    segment_customers,
    segment_movement,
    segment_of,
    segment_summary,
)
from pipelines.adapters import import_export
from tests.support.customer_shop import customer_shop
from tests.support.online_retail import loaded_lines, raw_lines, refunds_by_the_rule
from tests.support.warehouse_rows import REAL_DATA

AS_OF = date(2024, 3, 31)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = customer_shop(tmp_path_factory.mktemp("customers") / "w.duckdb")
    with duckdb.connect(str(path), read_only=True) as connection:
        yield connection


def test_the_segment_grid_puts_every_score_pair_in_exactly_one_segment():
    cells = Counter((r, fm) for s in SEGMENTS for r in s.recency for fm in s.fm)
    assert sorted(cells) == [(r, fm) for r in range(1, 6) for fm in range(1, 6)]
    assert set(cells.values()) == {1}
    # FM is the mean of F and M rounded half up: F 1, M 4 → 3; F 5, M 4 → 5.
    assert segment_of(5, 1, 4) == "potential_loyalists" and segment_of(5, 5, 4) == "champions"


def test_rfm_scores_by_hand(con):
    # Five customers are scored (the guest and f, whose order comes after the date, are not):
    #   recency days  a 1, b 6, c 6, d 86, e 121; frequency a 3, b 2, c 1, d 1, e 2;
    #   monetary a 300 (120 − 20 + 100 + 2 × 50), b 100 (two subtotals), c 400, d 30 (its cancelled order does not
    #   count), e 40 (30 − 10 refunded + 20).
    # score = 1 + ⌊5 × customers strictly worse / 5⌋ = 1 + customers strictly worse:
    #   R: a beats 4 → 5; b and c beat d and e → 3 each (the tie shares a score); d beats e → 2; e → 1.
    #   F: a beats 4 → 5; b and e beat c and d → 3; c, d → 1.
    #   M: c beats 4 → 5; a beats 3 → 4; b beats 2 → 3; e beats d → 2; d → 1.
    # FM = ⌊(F + M + 1) / 2⌋: a 5, b 3, c 3, d 1, e 3. Segments: a R5 FM5 champions; b, c R3 FM3 need attention;
    # d R2 FM1 hibernating; e R1 FM3 at risk.
    scores = rfm_scores(con, AS_OF)
    assert scores.select("customer_id", "recency_days", "frequency", "monetary").rows() == [
        ("a", 1, 3, 300.0),
        ("b", 6, 2, 100.0),
        ("c", 6, 1, 400.0),
        ("d", 86, 1, 30.0),
        ("e", 121, 2, 40.0),
    ]
    assert scores.select("customer_id", "r_score", "f_score", "m_score", "segment").rows() == [
        ("a", 5, 5, 4, "champions"),
        ("b", 3, 3, 3, "need_attention"),
        ("c", 3, 1, 5, "need_attention"),
        ("d", 2, 1, 1, "hibernating"),
        ("e", 1, 3, 2, "at_risk"),
    ]


def test_segment_summary_and_movement_by_hand(con):
    # As of 2024-02-15 only a (1 order, 100, 36 days), d (1, 30, 41 days) and e (2, 40, 76 days) had ordered; with
    # three customers, score = 1 + ⌊5 × worse / 3⌋: R a 4, d 2, e 1; F a 1, d 1, e 4; M a 4, d 1, e 2;
    # FM a 3, d 1, e 3 → a potential loyalist, d hibernating, e at risk.
    summary = {row["segment"]: row for row in segment_summary(con, AS_OF, date(2024, 2, 15)).iter_rows(named=True)}
    assert list(summary) == [s.name for s in SEGMENTS]  # every segment, best first, empty ones too
    # Net sales of all scored customers: 300 + 100 + 400 + 30 + 40 = 870; need attention holds b and c: 500.
    attention = summary["need_attention"]
    assert (attention["customers"], attention["revenue"], attention["previous_customers"], attention["change"]) == (
        2, 500.0, 0, 2,
    )  # fmt: skip
    assert attention["customer_share"] == pytest.approx(2 / 5)
    assert attention["revenue_share"] == pytest.approx(500 / 870)
    assert attention["avg_recency_days"] == 6 and attention["avg_frequency"] == 1.5
    assert (summary["potential_loyalists"]["customers"], summary["potential_loyalists"]["change"]) == (0, -1)
    assert (summary["lost"]["customers"], summary["lost"]["avg_monetary"]) == (0, None)
    assert sum(r["customers"] for r in summary.values()) == 5
    assert segment_movement(con, date(2024, 2, 15), AS_OF).rows() == [
        (None, "need_attention", 2),  # b and c had not ordered yet
        ("potential_loyalists", "champions", 1),  # a
        ("at_risk", "at_risk", 1),  # e
        ("hibernating", "hibernating", 1),  # d
    ]
    assert segment_customers(con, "need_attention", AS_OF) == ["b", "c"]
    with pytest.raises(ValueError, match="not one of"):
        segment_customers(con, "whales", AS_OF)


def test_repeat_interval_by_hand(con):
    # First → second order: a 2024-01-10 → 03-01 = 21 + 29 (February 2024) + 1 = 51 days; b 02-20 → 03-25 = 9 + 25 =
    # 34 days; e twice on 2023-12-01 = 0 days; c and d have one order. Cohorts: e 2023-12; a, d 2024-01; b 2024-02;
    # c 2024-03. All: 5 customers, 3 repeat (0.6), median of 0, 34, 51 = 34, mean 85 / 3.
    assert repeat_interval(con, AS_OF).rows() == [
        ("2023-12", 1, 1, 1.0, 0.0, 0.0),
        ("2024-01", 2, 1, 0.5, 51.0, 51.0),
        ("2024-02", 1, 1, 1.0, 34.0, 34.0),
        ("2024-03", 1, 0, 0.0, None, None),
        ("all", 5, 3, 0.6, 34.0, pytest.approx(85 / 3)),
    ]
    # Before b's second order (2024-03-25) the February cohort has no repeat yet.
    assert repeat_interval(con, date(2024, 3, 24)).row(2) == ("2024-02", 1, 0, 0.0, None, None)


def test_lifetime_value_by_hand(con):
    # Net sales by cohort and month k: 2023-12 (e): k0 40; 2024-01 (a, d): k0 100 + 30 = 130, k2 100 + 100 = 200;
    # 2024-02 (b): k0 50, k1 50; 2024-03 (c): k0 400. Complete months on 03-31: 4, 3, 2, 1.
    # Observed: 40 / 1, 330 / 2 = 165, 100 / 1, 400 / 1; all 870 / 5 = 174.
    # Month k's mean per customer over the cohorts that completed it (horizon 3 months):
    #   k0 (all four cohorts) (40 + 130 + 50 + 400) / 5 = 124; k1 (the first three) (0 + 0 + 50) / 4 = 12.5;
    #   k2 (the first two) (0 + 200) / 3 = 66.67.
    # Projected: 2023-12 its own 40; 2024-01 its own 165; 2024-02 its own 100 + k2 66.67 = 166.67;
    # 2024-03 its own 400 + 12.5 + 66.67 = 479.17; all (40 + 2 × 165 + 166.67 + 479.17) / 5 = 124 + 12.5 + 66.67.
    rows = lifetime_value(con, AS_OF, horizon=3).rows()
    assert [row[:3] for row in rows] == [("2023-12", 1, 4), ("2024-01", 2, 3), ("2024-02", 1, 2), ("2024-03", 1, 1),
                                         ("all", 5, None)]  # fmt: skip
    assert [row[3] for row in rows] == pytest.approx([40, 165, 100, 400, 174])
    assert [row[4] for row in rows] == pytest.approx(
        [40, 165, 100 + 200 / 3, 400 + 12.5 + 200 / 3, 124 + 12.5 + 200 / 3]
    )
    # A horizon longer than any cohort's history projects nothing (no cohort has completed month 4).
    assert lifetime_value(con, AS_OF, horizon=5)["projected_ltv"].null_count() == 5


def test_an_empty_shop_has_no_customers(tmp_path):
    from warehouse import writing

    with writing(tmp_path / "empty.duckdb"):
        pass
    with duckdb.connect(str(tmp_path / "empty.duckdb"), read_only=True) as empty:
        assert rfm_scores(empty).is_empty() and segment_summary(empty).is_empty()
        assert repeat_interval(empty).is_empty() and lifetime_value(empty).is_empty()


# --- the real UCI Online Retail data set ---------------------------------------------------------------------------

REAL = REAL_DATA / "uci-online-retail" / "online-retail-dataset.csv.gz"
UCI_DATE = date(2011, 12, 9)


def _independent_rfm(as_of: date) -> dict[str, tuple[int, int, int, str]]:
    """R, F, M scores and segment per customer, from the raw CSV in plain Python: invoices not starting with C,
    quantity and price > 0, exact duplicate lines once, money in whole pence (prices to the penny)."""
    raw = pl.read_csv(REAL, infer_schema=False)
    seen: set[tuple] = set()
    last: dict[str, date] = {}
    invoices: dict[str, set[str]] = {}
    pence: dict[str, int] = {}
    for row in raw.iter_rows():
        invoice, _, _, quantity, when, price, customer, _ = row
        if row in seen or customer is None or invoice.startswith("C"):
            continue
        seen.add(row)
        quantity, cents = int(quantity), round(float(price) * 100)
        day = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").date()
        if quantity <= 0 or cents <= 0 or day > as_of:
            continue
        customer = customer.removesuffix(".0")
        last[customer] = max(last.get(customer, day), day)
        invoices.setdefault(customer, set()).add(invoice)
        pence[customer] = pence.get(customer, 0) + quantity * cents
    # An order's value is its net sales: less the refunds the credit notes book on the customer's invoices.
    refunds, _ = refunds_by_the_rule(loaded_lines(raw_lines(REAL)))
    for customer, numbers in invoices.items():
        pence[customer] -= sum(refunds.get(number, 0) for number in numbers)
    customers = sorted(last)
    n = len(customers)
    recency = {c: (as_of - last[c]).days for c in customers}
    frequency = {c: len(invoices[c]) for c in customers}

    def scores(values: dict[str, int], better_is_lower: bool) -> dict[str, int]:
        ordered = sorted(values.values())
        out = {}
        for c, v in values.items():
            worse = n - bisect_right(ordered, v) if better_is_lower else bisect_left(ordered, v)
            out[c] = 1 + 5 * worse // n
        return out

    r, f, m = scores(recency, True), scores(frequency, False), scores(pence, False)
    grid = {(rs, fm): s.name for s in SEGMENTS for rs in s.recency for fm in s.fm}
    return {c: (r[c], f[c], m[c], grid[(r[c], (f[c] + m[c] + 1) // 2)]) for c in customers}


def test_uci_rfm_scores_and_segment_sizes_match_an_independent_computation(tmp_path: Path):
    db = tmp_path / "uci.duckdb"
    import_export(db, "online-retail", REAL)
    with duckdb.connect(str(db), read_only=True) as uci:
        scores = rfm_scores(uci, UCI_DATE)
        summary = segment_summary(uci, UCI_DATE)
    expected = _independent_rfm(UCI_DATE)
    assert scores.height == len(expected) == 4_338
    found = {row[0]: row[1:] for row in scores.select("customer_id", "r_score", "f_score", "m_score", "segment").rows()}
    assert found == expected
    sizes = Counter(segment for *_, segment in expected.values())
    assert dict(summary.select("segment", "customers").rows()) == {s.name: sizes.get(s.name, 0) for s in SEGMENTS}
    # Quintiles: each score's 1..5 counts are near a fifth where values do not tie much (recency, monetary).
    assert all(600 < count < 1_150 for count in Counter(m for _, _, m, _ in expected.values()).values())


def test_readme_lists_every_customer_figure():
    from metrics.customers import DEFINITIONS, README_END, README_START, definitions_markdown
    from metrics.registry import README_PATH

    readme = README_PATH.read_text(encoding="utf-8")
    start, end = readme.find(README_START), readme.find(README_END)
    assert 0 <= start < end, f"README.md has no {README_START} … {README_END} block"
    # Regenerate with: definitions_markdown() between the markers.
    assert readme[start + len(README_START) : end].strip() == definitions_markdown().strip()
    assert all(f"| `{d.name}` | {d.label_en} | {d.label_zh} |" in readme for d in DEFINITIONS)


def test_segment_changes_is_the_summary_and_the_movement(con):
    changes = segment_changes(con, AS_OF, date(2024, 2, 15))
    assert changes.summary.equals(segment_summary(con, AS_OF, date(2024, 2, 15)))
    assert changes.movement.equals(segment_movement(con, date(2024, 2, 15), AS_OF))
    # The campaign list: one id per row, sorted.
    assert segment_customer_ids(con, "need_attention", AS_OF).rows() == [("b",), ("c",)]
