"""Reading a chart builder's Vega-Lite spec in tests: the rows it draws, once the spec is checked against Vega-Lite's
schema (altair's copy, installed with Streamlit: Vega-Lite 6, which Streamlit draws) and to survive JSON, as Streamlit
sends it."""

from __future__ import annotations

import json

from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

VEGA_LITE = load_schema()


def valid(spec: dict) -> dict:
    """`spec`, after checking it is a valid Vega-Lite spec that JSON keeps as is."""
    validate_jsonschema(spec, VEGA_LITE)
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec
    return spec


def drawn(spec: dict) -> list[dict]:
    """The rows `spec` draws (its top-level data), after checking it is a valid Vega-Lite spec that JSON keeps as is."""
    return valid(spec)["data"]["values"]


def column(rows: list[dict], key: str) -> list:
    """The values of `key` in each of `rows`."""
    return [row[key] for row in rows]
