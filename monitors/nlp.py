"""The spaCy pipeline: loaded once per process, with a clear error when it cannot be."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from wirewatch.errors import ModelError

if TYPE_CHECKING:
    from spacy.language import Language


@lru_cache(maxsize=4)
def load_pipeline(model_name: str) -> Language:
    """Load the installed spaCy pipeline ``model_name`` (cached: spaCy is built once).

    Raises :class:`ModelError` with the reason when the model is not installed, cannot be
    loaded (corrupt or incompatible files) or has no named-entity recogniser.
    """
    try:
        import spacy

        nlp = spacy.load(model_name)
    except Exception as exc:  # spaCy raises OSError, ValueError, KeyError, msgpack errors...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"cannot load spaCy pipeline {model_name!r}: {reason}"
        raise ModelError(msg) from exc
    if "ner" not in nlp.pipe_names:
        msg = f"spaCy pipeline {model_name!r} has no 'ner' component (has {nlp.pipe_names})"
        raise ModelError(msg)
    try:
        nlp("Elon Musk spoke in Paris.")
    except Exception as exc:  # weights that load but cannot run
        msg = f"spaCy pipeline {model_name!r} fails on a test sentence: {exc}"
        raise ModelError(msg) from exc
    return nlp
