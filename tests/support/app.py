"""The dashboard under Streamlit's AppTest: open a page on a warehouse, read what it shows, check it did not fail."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from shopkpi.settings import REPO_ROOT
from shopkpi.ui import later


def open_app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str = "overview", **params: str) -> AppTest:
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    for name in ("SHOPKPI_CONFIG", "SHOPKPI_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    return drawn_whole(at)


def drawn_whole(at: AppTest) -> AppTest:
    """`at` drawn again once the slow results its page left to the background are ready (shopkpi/ui/later.py), as
    the browser redraws it by itself."""
    if later.pending():
        later.wait()
        at.run()
    return at


def shown_text(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def vega_charts(at: AppTest) -> list[tuple[dict, list[dict]]]:
    """The Vega-Lite charts `at` shows, in page order: each chart's spec and the rows of its top-level data (which
    st.vega_lite_chart moves out of the spec into an Arrow table)."""
    charts = []
    for node in at.get("vega_lite_chart"):
        data = node.proto.data.data
        rows = pa.ipc.open_stream(data).read_all().to_pylist() if data else []
        charts.append((json.loads(node.proto.spec), rows))
    return charts


def no_failure(at: AppTest) -> None:
    assert not at.exception, at.exception
    failures = [e.value for e in at.error if "could not be drawn" in e.value or "页面无法显示" in e.value]
    assert not failures, failures
