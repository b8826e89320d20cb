"""Segments: the dashboard's source, device and store filters, and which metrics they can split.

A segment is an argument of the metric functions (`compute_kpis(..., segment=...)`, `funnel`, `cohort_activity`, …),
bound as `$source` / `$device` / `$store` parameters of the facts they read (metrics/facts.py), never state left on a
cursor. A store filter matches every table by its own store (each store is its own shop, its ids its own).
The filter follows SPEC §4 attribution: a session matches by its own source and device; events and orders follow the
session they name (an order without a session matches no segment); ad spend matches by source and cannot be split by
device; operating expenses split by nothing. Metrics that cannot be split by a filtered dimension are blanked by
`blank_unsplittable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from metrics.registry import DIMENSION_LABELS, METRICS, dimensions_of

# polars is imported where a frame is made: a load (`shopkpi ingest`) imports this module for the rollups' SQL
# and needs no frame (tests/cli/test_lazy_imports.py).
if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Segment:
    """The filters in force: one traffic source, one device and/or one store; None means all."""

    source: str | None = None
    device: str | None = None
    store: str | None = None

    def __bool__(self) -> bool:
        return self.source is not None or self.device is not None or self.store is not None

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions this segment filters on."""
        pairs = (("source", self.source), ("device", self.device), ("store", self.store))
        return tuple(d for d, v in pairs if v is not None)

    def splits(self, metric: str) -> bool:
        """Whether the metric is defined on this segment (it can be split by every filtered dimension)."""
        return all(d in dimensions_of(metric) for d in self.dimensions)

    def why_undefined(self, metric: str, lang: str = "en") -> str | None:
        """Why the metric is blank on this segment, or None where it is defined."""
        missing = [d for d in self.dimensions if d not in dimensions_of(metric)]
        if not missing:
            return None
        names = ", ".join(DIMENSION_LABELS[d][1 if lang == "zh" else 0].lower() for d in missing)
        if lang == "zh":
            return f"{METRICS[metric].label_zh}无法按{names}拆分（SPEC §4），筛选时不显示。"
        return f"{METRICS[metric].label_en} cannot be split by {names} (SPEC §4), so it is blank under this filter."


ALL = Segment()


def blank_unsplittable(frame: pl.DataFrame, segment: Segment) -> pl.DataFrame:
    """The frame with metrics that the segment cannot split set to null (e.g. operating expenses under any filter)."""
    import polars as pl

    blank = [c for c in frame.columns if c in METRICS and not segment.splits(c)]
    return frame.with_columns(pl.lit(None, dtype=frame.schema[c]).alias(c) for c in blank) if blank else frame


def segment_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The sources and devices that occur in the sessions table, most sessions first; the stores of the stores table
    (by name)."""
    options = {}
    for dim in ("source", "device"):
        rows = con.sql(
            f"select {dim} from sessions where nullif({dim}, '') is not null group by {dim} order by count(*) desc"
        ).fetchall()
        options[dim] = [r[0] for r in rows]
    options["store"] = store_names(con)
    return options


def store_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse's stores, by name (one, or none for an empty warehouse, in a shop that sells in one place)."""
    return [r[0] for r in con.sql("select store from stores order by store").fetchall()]
