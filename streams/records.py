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


MATCHES_V1 = "matches.v1"
ALERT_OUTCOMES_V1 = "alert-outcomes.v1"
DEAD_LETTERS_V1 = "dead-letters.v1"
WATCHLISTS_V1 = "watchlists.v1"
NEAR_MISSES_V1 = "near-misses.v1"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def to_json(self) -> bytes:
        """The wire form."""
        return self.model_dump_json(by_alias=True).encode()


class EvidenceV1(_Record):
    """Why a topic matched: the matched text, where, and the rule that fired."""

    text: str
    field: str
    start: int = 0
    end: int = 0
    rule: str = ""


class EntityV1(_Record):
    """A named entity found in the article."""

    text: str
    label: str


class MatchV1(_Record):
    """One (article, watched topic) match; Kafka key: ``topic``.

    Keyed by topic so that every match of one topic reaches the same alert partition: story
    identity and the posted-alerts record stay consistent without cross-worker coordination.
    """

    schema_: str = Field(default=MATCHES_V1, alias="schema")
    article_id: str
    topic: str
    title: str = ""
    summary: str = Field(default="", description="Lead text, bounded, for story fingerprints.")
    link: str = ""
    source: str = ""
    published: datetime | None = None
    evidence: tuple[EvidenceV1, ...] = ()
    snippet: str = ""
    entities: tuple[EntityV1, ...] = ()
    score: float = 0.0
    watchlist_version: str
    matched_at: datetime

    @classmethod
    def from_json(cls, raw: bytes | str) -> MatchV1:
        """Parse the wire form; raises ``pydantic.ValidationError`` on a malformed record."""
        return cls.model_validate_json(raw)


class AlertOutcomeV1(_Record):
    """What the alert stage decided for one (story, topic, channel); Kafka key: ``alert_id``."""

    schema_: str = Field(default=ALERT_OUTCOMES_V1, alias="schema")
    alert_id: str
    story_id: str
    topic: str
    channel: str
    article_id: str
    outcome: str = Field(
        description="posted, digested (in a digest), duplicate, muted, cooldown, parked, failed"
    )
    detail: str = ""
    slack_ts: str | None = None
    watchlist_version: str
    decided_at: datetime


class DeadLetterV1(_Record):
    """A record a stage could not process, with the error; the original is kept verbatim."""

    schema_: str = Field(default=DEAD_LETTERS_V1, alias="schema")
    stage: str
    error_kind: str
    error: str
    source_topic: str = ""
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    channel: str = Field(default="", description="Alert stage: the Slack channel of the alert.")
    original: str = Field(description="The original value (UTF-8 with replacement).")
    original_bytes: int = 0
    failed_at: datetime


class WatchlistV1(_Record):
    """A validated watchlist pushed to the running service; Kafka key: ``name`` (compacted)."""

    schema_: str = Field(default=WATCHLISTS_V1, alias="schema")
    name: str = "default"
    version: str
    yaml: str
    source: str = ""
    pushed_at: datetime

    @classmethod
    def from_json(cls, raw: bytes | str) -> WatchlistV1:
        """Parse the wire form."""
        return cls.model_validate_json(raw)


class NearMissItemV1(_Record):
    """One topic the article almost matched, and why (``monitors.results.NearMiss``)."""

    topic: str
    reason: str = Field(description='"semantic" or "partial_rule"')
    detail: str = ""
    score: float | None = None
    threshold: float | None = None


class NearMissV1(_Record):
    """An article that almost matched one or more topics; Kafka key: ``article_id``.

    It carries the article's text (``content`` bounded) so that an operator can label it later
    without the articles topic, whose retention may have passed by then.
    """

    schema_: str = Field(default=NEAR_MISSES_V1, alias="schema")
    article_id: str = Field(min_length=1)
    title: str = ""
    summary: str = ""
    content: str = ""
    link: str = ""
    source: str = ""
    published: datetime | None = None
    near_misses: tuple[NearMissItemV1, ...] = Field(min_length=1)
    matched_topics: tuple[str, ...] = Field(
        default=(), description="Topics the article did match (context for the labeler)."
    )
    watchlist_version: str
    detected_at: datetime

    @classmethod
    def from_json(cls, raw: bytes | str) -> NearMissV1:
        """Parse the wire form; raises ``pydantic.ValidationError`` on a malformed record."""
        return cls.model_validate_json(raw)
