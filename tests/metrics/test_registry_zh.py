"""The registry in Chinese: every metric has a Chinese description, and the look-ups pick the language asked for."""

from __future__ import annotations

import re

import pytest

from metrics.registry import METRICS, Metric, description, formula_text

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_has_a_chinese_description(name):
    text = METRICS[name].description_zh
    # A copy of the English or a placeholder would have no Chinese characters in it.
    assert text.strip() and CJK.search(text), f"{name}: description_zh must be written in Chinese"
    assert text != METRICS[name].description


def test_description_zh_is_required():
    # A new metric that forgets its Chinese description does not even construct.
    english_only = {"label_en": "X", "label_zh": "X", "kind": "base", "unit": "count", "direction": "higher"}
    with pytest.raises(TypeError, match="description_zh"):
        Metric(name="x", description="x", **english_only)


def test_description_in_each_language():
    assert description("orders") == METRICS["orders"].description  # English is the default
    assert description("orders", "en").startswith("valid (paid, shipped, delivered or returned) orders")
    # The Chinese keeps column names and status values in code form, as the English does.
    assert description("orders", "zh") == "ordered_at 在本期内的有效订单（paid、shipped、delivered 或 returned）"
    assert "session_id" in description("conversion_rate", "zh")
    assert "ad_spend.cost" in description("ad_spend", "zh")
    assert description("orders", "fr") == description("orders", "en")  # any other language reads English


def test_formula_text_is_the_formula_or_the_description_in_that_language():
    # Ratio and derived metrics: the formula over metric names, the same in both languages.
    assert formula_text("aov", "zh") == formula_text("aov", "en") == "(gross_sales − discounts) / orders"
    assert formula_text("net_sales", "zh") == METRICS["net_sales"].formula == "gross_sales − discounts − refunds"
    # Base metrics: the formula is the description, so it follows the language.
    assert formula_text("refunds", "en") == METRICS["refunds"].formula == "Σ refund_amount over those orders"
    assert formula_text("refunds", "zh") == "本期有效订单的 Σ refund_amount"


def test_unknown_metric_is_a_key_error():
    with pytest.raises(KeyError):
        description("revenue", "zh")
