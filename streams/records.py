"""Versioned wire schemas of the records Wirewatch puts on Kafka.

Records are data: frozen pydantic models with no I/O. Each carries its ``schema`` name so that a
consumer can refuse (dead-letter) a record of a version it does not know instead of misreading it.
They travel as UTF-8 JSON; the Kafka key is named on each model.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

ARTICLES_V1 = "articles.v1"


class ArticleV1(BaseModel):
    """One feed entry as the poller publishes it; Kafka key: ``id``.

    Text fields are plain text (HTML already stripped). ``published`` is UTC or None when the feed
    gave no usable date.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_: str = Field(default=ARTICLES_V1, alias="schema")
    id: str = Field(min_length=1, description="Stable id: canonical link, else GUID, else hash.")
    link: str = Field(default="", description="Canonical link (tracking parameters removed).")
    title: str = ""
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    feed_url: str = ""
    source: str = Field(default="", description="Feed or publisher name.")
    guid: str = ""
    fetched_at: datetime | None = None
    tags: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """The wire form."""
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ArticleV1:
        """Parse the wire form; raises ``pydantic.ValidationError`` on a malformed record."""
        return cls.model_validate_json(raw)
