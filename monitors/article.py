"""The article as detection sees it: plain, picklable text fields."""

from __future__ import annotations

from dataclasses import dataclass

#: The article fields detection can look at, in the order they are reported.
FIELDS = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class ArticleText:
    """One article's text; ``published`` is an ISO 8601 string (or None)."""

    id: str
    title: str
    summary: str = ""
    content: str = ""
    link: str = ""
    published: str | None = None
    source: str = ""

    def field(self, name: str) -> str:
        """The raw text of field ``name`` (title, summary or content)."""
        value: str = getattr(self, name)
        return value or ""
