"""Normalisation: the same function for watch terms and article text (RELIABILITY 17, 18)."""

from __future__ import annotations

import pytest

from monitors.normalize import html_to_text, normalize_text, truncate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   \n\t  ", ""),
        ("😀🚀🔥", "😀🚀🔥"),
        ("pa\u200buse", "pause"),  # zero-width space inside a keyword
        ("pa\u200c\u200du\u2060se\ufeff", "pause"),  # joiners, word joiner, BOM
        ("mora\u00adtorium", "moratorium"),  # soft hyphen
        ("\u202eesuap\u202c AI", "esuap AI"),  # RTL override removed, text kept as stored
        ("\u2066AI\u2069 \u200fpause\u200e", "AI pause"),  # isolates and marks
        ("ＡＩ ﬁne ｐａｕｓｅ", "AI fine pause"),  # NFKC: full-width, ligature
        ("a\x00b\x07c", "a b c"),  # controls never glue words
        ("many   spaces\n\nand\tlines", "many spaces and lines"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_html_is_reduced_to_text() -> None:
    html = (
        "<div><p>Musk calls for a <b>pause</b></p><script>alert('<p>x')</script>"
        "<style>p{}</style><p>AI&nbsp;labs &amp; more</p><!-- hidden --></div>"
    )
    assert normalize_text(html) == "Musk calls for a pause AI labs & more"


def test_plain_text_with_angle_brackets_passes_through() -> None:
    assert html_to_text("a < b and c > d") == "a < b and c > d"


def test_truncate_cuts_at_a_word_boundary() -> None:
    text = "word " * 100
    cut = truncate(text, 52)
    assert len(cut) <= 52 and cut.endswith("word")


def test_two_megabyte_text_is_bounded() -> None:
    text = ("Musk calls for an AI pause. " * 80_000)[:2_000_000]
    out = normalize_text(text, max_chars=100_000)
    assert 99_000 <= len(out) <= 100_000
    assert out.startswith("Musk calls for an AI pause.")


def test_pathological_markup_is_bounded() -> None:
    out = normalize_text('<a "' * 500_000, max_chars=1000)
    assert len(out) <= 1000


def test_a_declaration_or_a_slack_ping_in_a_field_is_dropped_not_a_crash() -> None:
    assert html_to_text("<!DOCTYPE html><p>AI pause</p>").split() == ["AI", "pause"]
    assert html_to_text("<!channel> Chinese firm unveils a model").split() == [
        "Chinese",
        "firm",
        "unveils",
        "a",
        "model",
    ]
