"""Text from the data shown inside markdown (source names, campaigns, user names) reads literally."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shopkpi.i18n import md

# CommonMark: a backslash before ASCII punctuation stands for that character.
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@given(st.text())
def test_escaped_text_reads_as_the_same_characters(text: str) -> None:
    escaped = md(text)
    assert UNESCAPE.sub(r"\1", escaped) == text.replace("\n", " ")
    # No markdown construct survives: every character markdown gives a meaning to is preceded by a backslash.
    assert not re.search(r"(?<!\\)(?:\\\\)*[`*_\[\]()<>!:$~|#]", escaped.replace("\\\\", ""))


def test_a_hostile_source_name_becomes_plain_text() -> None:
    # "www." and "https:" no longer start a link once their dot and colon are escaped.
    assert md("![x](https://tracker.example/p?u=1)") == r"\!\[x\]\(https\://tracker\.example/p?u=1\)"
    assert md(":red[URGENT] :material/warning:") == r"\:red\[URGENT\] \:material/warning\:"
    assert md("google / cpc") == "google / cpc"
