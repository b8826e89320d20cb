"""KPI targets: the packaged defaults of SPEC §4 (metrics/targets.toml), overridden by the user's own file.

A target is a range or a bound with a direction; a value's status is "on", "near" (within 10% of the bound it
misses) or "off" target. The user's file is a path the caller passes (read from settings at the edge: CLI, server).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from metrics.registry import METRICS

DEFAULT_TARGETS_PATH = Path(__file__).resolve().parent / "targets.toml"
NEAR = 0.10  # "near" target: within 10% of the bound
DIRECTIONS = ("higher", "lower", "within")
STATUSES = ("on", "near", "off")
# How each verdict reads, in English and Chinese; 'above' and 'below' are "on" past the good end of a range.
VERDICTS: dict[str, tuple[str, str]] = {
    "on": ("on target", "达标"),
    "near": ("near target", "接近目标"),
    "off": ("off target", "未达标"),
    "above": ("above range — good", "高于区间（良好）"),
    "below": ("below range — good", "低于区间（良好）"),
}


def verdict_text(verdict: str | None, lang: str = "en") -> str:
    """The words of a verdict in a language ('' for no verdict)."""
    return VERDICTS[verdict][lang == "zh"] if verdict else ""


REPLENISH_TARGET = "replenish_lead_days"  # the guide's window: goods arrive 7–15 days before stock runs out


class TargetsError(ValueError):
    """A targets file that cannot be used, explained in one line (which file, which metric, what is wrong)."""


@dataclass(frozen=True)
class Target:
    """The target of one metric: a range [min, max] or one bound, and which way is better."""

    metric: str
    min: float | None = None
    max: float | None = None
    direction: str = "within"
    note: str = ""
    note_zh: str = ""  # the note in simplified Chinese; optional, `note_in` falls back to the English

    def note_in(self, lang: str = "en") -> str:
        """The note in Chinese when lang is 'zh' and the file gives one (note_zh), else the English note."""
        return self.note_zh if lang == "zh" and self.note_zh else self.note

    @property
    def floor(self) -> float | None:
        """The bound a value must not fall below (None where falling low is fine)."""
        if self.min is None or (self.max is not None and self.direction == "lower"):
            return None
        return self.min

    @property
    def ceiling(self) -> float | None:
        """The bound a value must not rise above (None where rising high is fine)."""
        if self.max is None or (self.min is not None and self.direction == "higher"):
            return None
        return self.max

    def status(self, value: float | None) -> str | None:
        """'on', 'near' or 'off' target; None for an undefined value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        for bound, missed in ((self.floor, lambda b: value < b), (self.ceiling, lambda b: value > b)):
            if bound is not None and missed(bound):
                # The tiny allowance keeps 1.8% "near" a 2% bound despite binary floating point.
                return "near" if abs(value - bound) <= NEAR * abs(bound) * (1 + 1e-9) else "off"
        return "on"

    def verdict(self, value: float | None) -> str | None:
        """The status as worded (a key of VERDICTS): like `status`, but a value past the good end of a range is
        'above' or 'below' ("above range — good"), so the words never contradict the range shown beside them."""
        status = self.status(value)
        if status == "on" and self.max is not None and value > self.max:
            return "above"
        if status == "on" and self.min is not None and value < self.min:
            return "below"
        return status

    def describe(self) -> str:
        """The target as a card shows it, e.g. '30.0%–50.0%' or '≥ 100.00' (in the metric's format)."""
        spec = METRICS[self.metric].format if self.metric in METRICS else "g"
        if self.min is not None and self.max is not None:
            return f"{format(self.min, spec)}–{format(self.max, spec)}"
        if self.min is not None:
            return f"≥ {format(self.min, spec)}"
        return f"≤ {format(self.max, spec)}"


def _number(raw: dict, key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetsError(f"{where}: {key} must be a number, not {value!r}")
    return float(value)


def _target(metric: str, raw: dict, where: str) -> Target | None:
    if not isinstance(raw, dict):
        raise TargetsError(f"{where}: expected a table [{metric}] with min and/or max")
    unknown = set(raw) - {"min", "max", "bound", "direction", "note", "note_zh", "enabled"}
    if unknown:
        keys = "min, max, direction, note, note_zh"
        raise TargetsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {keys}")
    if raw.get("enabled", True) is False:
        return None
    default_direction = METRICS[metric].direction if metric in METRICS else "within"
    direction = raw.get("direction", default_direction)
    if direction not in DIRECTIONS:
        raise TargetsError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    low, high = _number(raw, "min", where), _number(raw, "max", where)
    bound = _number(raw, "bound", where)
    if bound is not None:
        # "a bound with a direction": higher is better makes it a floor, lower is better a ceiling.
        if low is not None or high is not None or direction == "within":
            raise TargetsError(f"{where}: give either bound with direction higher/lower, or min and/or max")
        low, high = (bound, None) if direction == "higher" else (None, bound)
    if low is None and high is None:
        raise TargetsError(f"{where}: give min, max or both")
    if low is not None and high is not None and low > high:
        raise TargetsError(f"{where}: min {low:g} is above max {high:g}")
    note, note_zh = (str(raw.get(key, "")).strip() for key in ("note", "note_zh"))
    return Target(metric, low, high, direction, note, note_zh)


def read_targets(path: Path) -> dict[str, Target | None]:
    """The targets of one file, by metric (None for a target switched off with `enabled = false`)."""
    try:
        with Path(path).open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise TargetsError(f"targets file {path} does not exist: fix targets_path or SHOPKPI_TARGETS") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"targets file {path} is not valid TOML: {exc}") from None
    return {metric: _target(metric, entry, f"{path} [{metric}]") for metric, entry in raw.items()}


def load_targets(path: str | Path | None = None) -> dict[str, Target]:
    """The targets in force, by metric: the packaged defaults, replaced metric by metric by the user's file at `path`
    (None: the defaults alone). Callers pass settings' `targets_path` (shopkpi.toml or env SHOPKPI_TARGETS)."""
    targets: dict[str, Target | None] = dict(read_targets(DEFAULT_TARGETS_PATH))
    if path is not None:
        targets.update(read_targets(Path(path)))
    return {metric: target for metric, target in targets.items() if target is not None}


def target_status(metric: str, value: float | None, targets: Mapping[str, Target] | None = None) -> str | None:
    """'on', 'near' or 'off' target for a metric's value; None where the metric has no target or no value.
    Without `targets`, against the packaged defaults."""
    targets = load_targets(None) if targets is None else targets
    target = targets.get(metric)
    return None if target is None else target.status(value)


def replenish_window(targets: Mapping[str, Target]) -> tuple[int, int]:
    """The replenishment window in days, (soonest, latest): goods should arrive between that many days before stock
    runs out. From the `replenish_lead_days` target; a bound it leaves out keeps the default (7–15), so `min = 5`
    alone reads 5–15; no target (or `enabled = false`) is the default. Read by the dashboard and the reports alike.
    """
    # Imported here: the stock module imports numpy and polars, and every command reads the targets' errors.
    from metrics.stock import DEFAULT_BUFFER_DAYS

    low, high = DEFAULT_BUFFER_DAYS
    target = targets.get(REPLENISH_TARGET)
    if target is None:
        return low, high
    low = low if target.min is None else int(target.min)
    high = high if target.max is None else int(target.max)
    if low > high:
        # One bound given, beyond the default other one (e.g. `min = 20` against the default 15): the user's bound
        # is what they asked for, so the default one moves to it rather than leaving an empty window.
        low, high = (low, low) if target.max is None else (high, high)
    return low, high
