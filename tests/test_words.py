"""The shared word set (mse_lint.checks.words) is exactly ``frozenset(re.findall(r"\\w+",
text))``, whichever of its scans (bytes split for ASCII and UTF-8 text, the regex for pieces
with non-ASCII characters and for text that cannot be encoded) handles the text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mse_lint.checks import words

_WORD = re.compile(r"\w+")

ODD_TEXTS = [
    "",
    " ",
    "x",
    "_",
    "__init__",
    "0",
    "007 1_000 0x1F 1e9 3.14j",
    "import os\nos.system('ls')\n",
    "a\tb\x0bc\x0cd\re\x1cf\x1dg\x1eh\x1fi\x00j\x7fk",  # tabs, form feeds, separators, NUL, DEL
    "a.b,c;d:e(f)[g]{h}<i>j=k+l-m*n/o%p^q&r|s~t!u?v@w#x$y\\z'\"`",
    "def café(naïve): return naïve  # déjà vu",  # unicode identifiers
    "名前 = 'значение'",  # no ASCII letters at all
    "x\u00b7y x\u2019s «quoted» —dash— l’été",  # non-ASCII punctuation next to names
    "e\u0301t\u0301e\u0301",  # combining marks: not word characters
    "\u00a0nbsp\u00a0\u2003em\u3000ideo\u0085nel\u2028ls",  # non-ASCII whitespace
    "٣٤ ½ ² x²y Ⅻ",  # other digits and numerics
    "ﬁle ǅx",  # ligature, title case
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 emoji😀name 😀 a😀b",  # astral characters
    "bad\udcffsurrogate os\ud800system",  # lone surrogates: not UTF-8
    "mixed ascii_name ünïcode_name ascii2",
]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_words_are_the_regex_runs(text: str) -> None:
    assert words(text) == frozenset(_WORD.findall(text))


_ALPHABET = st.sampled_from(
    [
        *"aZ_09 \t\n\x0b\x0c\r\x1c\x00.-'\"#()",
        *"é\u00b7\u2019\u0301\u00a0\u3000\u0085\u2028名½²Ⅻﬁ😀\udcff",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_words_match_the_regex_on_generated_texts(text: str) -> None:
    assert words(text) == frozenset(_WORD.findall(text))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_words_match_the_regex_on_any_text(text: str) -> None:
    assert words(text) == frozenset(_WORD.findall(text))


def test_a_name_is_a_word_exactly_when_the_regex_finds_it_alone() -> None:
    text = "from os import system as run_it\nrun_it('x')  # système, os_path, os2\n"
    for name in ["os", "system", "run_it", "x", "os_path", "os2", "path", "syst", "ème"]:
        found = re.search(rf"\b{name}\b", text) is not None
        assert (name in words(text)) is found, name


def test_each_text_gets_its_own_words() -> None:
    # the last text's words are kept: an equal-looking but different text is scanned anew
    assert words("alpha beta") == {"alpha", "beta"}
    assert words("alpha gamma") == {"alpha", "gamma"}
    assert words("alpha beta") == {"alpha", "beta"}
