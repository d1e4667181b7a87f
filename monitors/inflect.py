"""Inflected forms of watch terms, generated once when a watchlist is compiled.

Matching inflected forms by explicit expansion keeps the per-article pass down to the tokenizer
and a phrase matcher: no tagger or lemmatizer runs on every article. The rules are the regular
English ones (``pause`` -> pauses, paused, pausing; ``stop`` -> stopped; ``try`` -> tried); the
odd non-word they also produce can only match text that contains that non-word. Irregular forms
are the operator's to list (``forms:``).
"""

from __future__ import annotations

import itertools

_VOWELS = frozenset("aeiou")
#: Most spellings one phrase may expand to (beyond that, only its last word is inflected).
MAX_FORMS = 64


def word_forms(word: str) -> tuple[str, ...]:
    """``word`` (lower case) and its regular inflections; short or non-alphabetic words as is."""
    w = word.lower()
    if len(w) < 3 or not w.isalpha():
        return (word,)
    if len(w) >= 5 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        # A plural written by the operator: also its singular and the singular's forms.
        return tuple(dict.fromkeys((w, *word_forms(w[:-1]))))
    forms = [w]
    consonant_y = w.endswith("y") and w[-2] not in _VOWELS
    if w.endswith(("s", "x", "z", "ch", "sh")):
        forms.append(w + "es")
    elif consonant_y:
        forms.append(w[:-1] + "ies")
    else:
        forms.append(w + "s")
    if w.endswith("e"):
        forms += [w + "d", w[:-1] + "ing", w + "ing"]
    elif consonant_y:
        forms += [w[:-1] + "ied", w + "ing"]
    else:
        forms += [w + "ed", w + "ing"]
        if w[-1] not in _VOWELS | {"w", "x", "y"} and w[-2] in _VOWELS and w[-3] not in _VOWELS:
            forms += [w + w[-1] + "ed", w + w[-1] + "ing"]  # stop -> stopped, stopping
    return tuple(dict.fromkeys(forms))


def phrase_forms(words: list[str], *, case_sensitive: bool) -> list[list[str]]:
    """Every spelling (as word lists) of a phrase whose words may each be inflected.

    Case-sensitive phrases (acronyms, names) only gain a plural ``s`` on their last word.
    """
    if not words:
        return []
    if case_sensitive:
        variants = [list(words)]
        if words[-1].isalpha():
            variants.append([*words[:-1], words[-1] + "s"])
        return variants
    options = [word_forms(word) for word in words]
    total = 1
    for choice in options:
        total *= len(choice)
    if total > MAX_FORMS:
        # Keep the last word's inflections (head nouns, and verbs of one-word phrases).
        options = [(word,) for word in words[:-1]] + [options[-1]]
    return [list(combo) for combo in itertools.product(*options)]
