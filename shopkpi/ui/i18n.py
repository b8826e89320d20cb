"""The dashboard's language, English or 中文: chosen in the sidebar (`f_lang`), or by the URL (`?lang=zh`) before the
sidebar has run (e.g. on the sign-in page). Also how text that comes from the data is made safe to show as markdown."""

from __future__ import annotations

import re

import streamlit as st

LANGUAGES = {"en": "English", "zh": "中文"}

# Everything Streamlit's markdown gives a meaning to: CommonMark punctuation, plus `:color[...]`, `:material/…:`
# and emoji shortcodes (colons), LaTeX (`$`) and raw HTML (`<`).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&])")


def lang() -> str:
    """The language chosen in the sidebar ('en' or 'zh'); before the sidebar has run, the URL's."""
    value = st.session_state.get("f_lang", st.query_params.get("lang", "en"))
    return value if value in LANGUAGES else "en"


def t(en: str, zh: str) -> str:
    """The text in the chosen language."""
    return zh if lang() == "zh" else en


def md(text: object) -> str:
    """`text` from the data (a source name, a campaign, a product) shown literally inside markdown: a source named
    `![x](https://tracker.example/pixel)` or `:red[urgent]` reads as those characters, not as an image or a colour."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
