"""The README's definitions table is the registry's: regenerate it with `python -m metrics.registry --readme`."""

from __future__ import annotations

from metrics.registry import README_END, README_PATH, README_START, definitions_markdown, readme_with_definitions


def test_readme_definitions_table_is_current():
    assert README_PATH.exists(), "README.md is missing"
    readme = README_PATH.read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme, (
        f"README.md has no {README_START} … {README_END} block: add the markers, then run "
        "`python -m metrics.registry --readme`"
    )
    assert readme_with_definitions(readme) == readme, (
        "README.md's definitions table differs from the metric registry: run `python -m metrics.registry --readme`"
    )


def test_definitions_table_has_one_row_per_metric():
    from metrics.registry import METRICS

    table = definitions_markdown()
    for name, metric in METRICS.items():
        assert f"| `{name}` | {metric.label_en} | {metric.label_zh} |" in table
