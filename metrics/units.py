"""How a number of each unit is shown, decided once: its text on a card, in a table, the CLI or a report; the text of
a change; a chart axis; an Excel cell; a dashboard table column. The registry gives each metric a unit; charts,
reports, the CLI and pages read its formats here and never write a format of their own.

Format specs (`value`, `rounded`, `axis`) are valid both for Python's `format()` and for Plotly's d3-format, so a
chart's hover reads like the table next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

MISSING = "—"  # an undefined value: no data, or a ratio over nothing (never 0 and never "nan")
STYLES = ("full", "card", "whole")


def missing(value: Any) -> bool:
    """Whether `value` is undefined (None or NaN)."""
    return value is None or value != value


@dataclass(frozen=True)
class Unit:
    """How numbers of one unit read, wherever they are shown."""

    name: str
    value: str  # a value on a card, in a table, the CLI and reports, e.g. ",.2f"
    rounded: str  # where whole amounts read best: summaries, big card values, report chart labels, heatmap cells
    axis: str  # a chart's axis ticks and hover values (Plotly)
    excel: str  # the number format of a workbook cell (Excel's own syntax)
    column: str  # the format of a dashboard table column (st.column_config.NumberColumn)
    suffix: str = ""  # after the number, e.g. "×" for a ratio
    share: bool = False  # a fraction shown as a percentage: a difference of two reads in percentage points
    currency: bool = False  # the store currency may follow the number
    card_whole_from: float | None = None  # on a card, from this size on the value is shown `rounded` (fits the card)

    def text(self, value: Any, currency: str | None = None, style: str = "full", spec: str | None = None) -> str:
        """`value` as a reader sees it: '—' where undefined. `style`: 'full' (the unit's `value` format, or `spec`),
        'card' (whole amounts from `card_whole_from` on), 'whole' (always `rounded`)."""
        if missing(value):
            return MISSING
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
        whole = style == "whole" or (
            style == "card" and self.card_whole_from is not None and abs(value) >= self.card_whole_from
        )
        text = format(value, self.rounded if whole else spec or self.value) + self.suffix
        return f"{text} {currency}" if currency and self.currency else text

    def change_text(self, difference: float | None, relative: float | None = None, style: str = "full") -> str:
        """A difference of two values of this unit: percentage points for a share ('+1.5 pt'), else the signed
        amount, followed by the relative change where given ('+1,234.56 (+3.2%)'). `style` 'whole': the amount
        rounded ('+1,235'), the points whole ('+2 pt')."""
        if missing(difference):
            return MISSING
        if style not in ("full", "whole"):
            raise ValueError(f"unknown style {style!r}: use full or whole")
        if self.share:
            # A relative change of a share (a margin from 10% to 11% is +10%) misleads; points do not.
            return f"{difference * 100:+.{0 if style == 'whole' else 1}f} pt"
        text = format(difference, "+" + (self.rounded if style == "whole" else self.value)) + self.suffix
        return text if missing(relative) else f"{text} ({CHANGE.text(relative)})"

    def label_text(self, value: float) -> str:
        """A value's label on a static chart (the reports' SVG bars): shares as on a card, amounts whole."""
        return format(value, self.value if self.share else self.rounded)

    def tick_text(self, value: float) -> str:
        """A tick of a static chart's axis (the reports' SVG): whole percentages; amounts shortened to k and M."""
        if self.share:
            return format(value, self.rounded)
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:,.1f}M".replace(".0M", "M")
        if abs(value) >= 10_000:
            return f"{value / 1_000:,.0f}k"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


# The units of metrics (`Metric.unit` in the registry).
COUNT = Unit("count", value=",.0f", rounded=",.0f", axis=",.0f", excel="#,##0", column="localized")
MONEY = Unit(
    "money",
    value=",.2f",  # no currency sign: the store's currency is named once per page or report
    rounded=",.0f",
    axis=",.0f",
    excel="#,##0.00",
    column="localized",
    currency=True,
    card_whole_from=10_000,  # large amounts without cents so they fit a card; the exact value is in the tables
)
RATE = Unit("rate", value=".1%", rounded=".0%", axis=".1%", excel="0.0%", column="percent", share=True)  # in [0, 1]
MARGIN = Unit(
    "margin",
    value=".1%",
    rounded=".0%",
    axis=".0%",  # margins swing widely month to month: whole percentages keep the axis readable
    excel="0.0%",
    column="percent",
    share=True,
)
RATIO = Unit("ratio", value=".2f", rounded=".1f", axis=".2f", excel='0.00"×"', column="%.2f×", suffix="×")
METRIC_UNITS: dict[str, Unit] = {unit.name: unit for unit in (COUNT, MONEY, RATE, MARGIN, RATIO)}

# Other quantities the reports and pages show beside metrics.
CHANGE = Unit(  # a relative change between two periods, e.g. +3.2% (rates included: 4.0% → 3.8% is −5.0%)
    "change", value="+.1%", rounded="+.0%", axis="+.1%", excel="+0.0%;-0.0%;0.0%", column="percent"
)
DECIMAL = Unit(  # a plain quantity with one decimal: units sold per day, days of cover
    "decimal", value=",.1f", rounded=",.0f", axis=",.1f", excel="#,##0.0", column="%.1f"
)
DATE = Unit("date", value="%Y-%m-%d", rounded="%Y-%m-%d", axis="%Y-%m-%d", excel="yyyy-mm-dd", column="YYYY-MM-DD")
UNITS: dict[str, Unit] = {**METRIC_UNITS, **{unit.name: unit for unit in (CHANGE, DECIMAL, DATE)}}

# The axis of a chart of a column that is no metric (its unit unknown): two decimals, nothing hidden.
OTHER_AXIS = ",.2f"


def unit(name: str) -> Unit:
    """The unit called `name`; KeyError names the known ones."""
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; known: {', '.join(UNITS)}") from None


def change_text(relative: float | None) -> str:
    """A relative change between two periods as a reader sees it, e.g. '+3.2%'; '—' where undefined."""
    return CHANGE.text(relative)


def date_text(day: date) -> str:
    """A date as every table shows it (ISO: 2024-03-05)."""
    return DATE.text(day)
