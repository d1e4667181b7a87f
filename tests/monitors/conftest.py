"""Fixtures for the detection core: spaCy pipelines built once, watchlists from text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import spacy

from monitors.article import ArticleText
from monitors.detector import Detector
from monitors.nlp import load_pipeline
from monitors.watchlist import Watchlist, parse_watchlist
from wirewatch.settings import load_settings

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "sample.yaml"


@pytest.fixture(scope="session")
def blank_nlp() -> Any:
    """A tokenizer-only English pipeline (no statistical model)."""
    return spacy.blank("en")


@pytest.fixture(scope="session")
def model_nlp() -> Any:
    """The configured trained pipeline (NER); installed, so never skipped."""
    return load_pipeline(load_settings().spacy_model)


def topics_yaml(body: str, entities: str = "") -> str:
    """A watchlist text from a topics block (and an optional entities block), both indented."""
    text = "topics:\n" + body
    if entities:
        text += "entities:\n" + entities
    return text


@pytest.fixture
def make_detector(blank_nlp: Any) -> Callable[..., Detector]:
    """Build a detector from watchlist YAML text (blank pipeline unless one is given)."""

    def make(text: str, nlp: Any = None, **kwargs: Any) -> Detector:
        watchlist: Watchlist = parse_watchlist(text, "test.yaml")
        return Detector(watchlist, nlp if nlp is not None else blank_nlp, **kwargs)

    return make


def article(title: str = "", summary: str = "", content: str = "", id: str = "a1") -> ArticleText:
    """An article with just text."""
    return ArticleText(id=id, title=title, summary=summary, content=content)
