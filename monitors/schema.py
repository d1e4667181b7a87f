"""The watchlist language as strict pydantic models (the YAML structure, key by key).

Every model forbids unknown keys and is frozen. Terms written as plain strings become
:class:`Term`; a group (one term, or a list of terms any of which will do) becomes a tuple of
terms. ``docs/watchlists.md`` documents every key.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from monitors.normalize import normalize_text

#: Entity labels of spaCy's English pipelines (OntoNotes 5) that name something.
NAME_LABELS = (
    "PERSON",
    "NORP",
    "FAC",
    "ORG",
    "GPE",
    "LOC",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
)
#: The ones that are numbers, dates and amounts.
NUMERIC_LABELS = ("DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")
ENTITY_LABELS = NAME_LABELS + NUMERIC_LABELS
FieldName = Literal["title", "summary", "content"]
Priority = Literal["low", "normal", "high"]
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,20})$")
_MENTION = re.compile(r"^(here|channel|subteam\^[A-Z0-9]{2,30})$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        msg = f"invalid id {value!r} (lower-case letters, digits, '-' and '_'; at most 64)"
        raise ValueError(msg)
    return value


def _check_label(value: str) -> str:
    if value not in ENTITY_LABELS:
        msg = f"unknown entity label {value!r} (expected one of {', '.join(ENTITY_LABELS)})"
        raise ValueError(msg)
    return value


Id = Annotated[str, BeforeValidator(lambda v: _check_id(v) if isinstance(v, str) else v)]
Label = Annotated[str, BeforeValidator(lambda v: _check_label(v) if isinstance(v, str) else v)]


class Term(_Strict):
    """A word or phrase (``text``), a regular expression (``regex``) or a watched ``entity``."""

    text: str | None = None
    regex: str | None = None
    entity: Id | None = None
    case_sensitive: bool = False
    inflect: bool | None = Field(
        default=None, description="Match inflected forms; default: yes for terms, no for aliases."
    )
    forms: tuple[str, ...] = ()

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not normalize_text(value):
            msg = "must not be empty"
            raise ValueError(msg)
        return value

    @field_validator("forms")
    @classmethod
    def _forms_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not normalize_text(form) for form in value):
            msg = "forms must not be empty strings"
            raise ValueError(msg)
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            msg = "must not be empty"
            raise ValueError(msg)
        try:
            re.compile(value)
        except re.error as exc:
            msg = f"invalid regular expression: {exc}"
            raise ValueError(msg) from None
        if re.compile(value).search(""):
            msg = "regular expression matches the empty string"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Term:
        given = [k for k in ("text", "regex", "entity") if getattr(self, k) is not None]
        if len(given) != 1:
            msg = "a term needs exactly one of text, regex, entity" + (
                f" (got {', '.join(given)})" if given else ""
            )
            raise ValueError(msg)
        if self.forms and self.text is None:
            msg = "forms go with text only"
            raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """How evidence names the term."""
        if self.entity is not None:
            return f"entity:{self.entity}"
        if self.regex is not None:
            return f"regex:{self.regex}"
        return str(self.text)


def _as_term(value: Any) -> Any:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"text": str(value)}  # 2023, 4: the digits as written
    if value is None or isinstance(value, bool | float | date):
        # YAML turned the term into another type (yes/no/on/off, 1e3, 2023-03-29, ~): the
        # original spelling is lost, so it cannot be matched as written.
        msg = f"YAML reads this term as {value!r} ({type(value).__name__}): put it in quotes"
        raise ValueError(msg)
    return value


def _as_group(value: Any) -> Any:
    return value if isinstance(value, list | tuple) else [value]


TermLike = Annotated[Term, BeforeValidator(_as_term)]
Group = Annotated[tuple[TermLike, ...], BeforeValidator(_as_group), Field(min_length=1)]
Terms = Annotated[tuple[TermLike, ...], Field(min_length=1)]


class Near(_Strict):
    """One term of every group within ``within`` words of each other, in one field."""

    terms: Annotated[tuple[Group, ...], Field(min_length=2)]
    within: int = Field(ge=1, le=1000)


class EntityTypes(_Strict):
    """An entity of one of ``labels`` (NER or watched), optionally in a sentence with a term."""

    labels: Annotated[tuple[Label, ...], Field(min_length=1)]
    same_sentence_as: Terms | None = None


CONDITIONS = ("any", "all", "near", "same_sentence", "entities", "entity_types")


class Block(_Strict):
    """A set of conditions that must all hold."""

    any: Terms | None = None
    all: Annotated[tuple[Group, ...], Field(min_length=1)] | None = None
    near: Near | None = None
    same_sentence: Annotated[tuple[Group, ...], Field(min_length=2)] | None = None
    entities: Annotated[tuple[Id, ...], Field(min_length=1)] | None = None
    entity_types: EntityTypes | None = None

    def has_conditions(self) -> bool:
        """Whether at least one condition is given."""
        return any(getattr(self, name) is not None for name in CONDITIONS)

    def needs_ner(self) -> bool:
        """Whether the statistical NER is needed to decide this block."""
        return self.entity_types is not None

    @model_validator(mode="after")
    def _not_empty(self) -> Block:
        if type(self) is Block and not self.has_conditions():
            msg = f"needs at least one condition ({', '.join(CONDITIONS)})"
            raise ValueError(msg)
        return self


def _exclude_kind(value: Any) -> str:
    if isinstance(value, str | Term):
        return "term"
    if isinstance(value, dict) and value.keys() & {"text", "regex", "entity"}:
        return "term"
    return "block"


ExcludeItem = Annotated[
    Annotated[TermLike, Tag("term")] | Annotated[Block, Tag("block")],
    Discriminator(_exclude_kind),
]


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        found = _DURATION.match(value.strip())
        if found and any(found.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value


class AlertSettings(_Strict):
    """Where and how a topic's alerts go (the alert side reads these)."""

    channels: Annotated[tuple[str, ...], Field(min_length=1)] = ()
    priority: Priority = "normal"
    mention: str | None = None
    mention_any_priority: bool = False
    muted_until: AwareDatetime | None = None
    cooldown: Annotated[timedelta, BeforeValidator(_parse_duration)] | None = None

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not _CHANNEL.match(channel):
                msg = f"invalid channel {channel!r} (use #name in lower case, or a channel id)"
                raise ValueError(msg)
        return value

    @field_validator("mention")
    @classmethod
    def _mention_form(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if re.fullmatch(r"S[A-Z0-9]{2,30}", value):
            value = f"subteam^{value}"
        if not _MENTION.match(value):
            msg = f"invalid mention {value!r} (here, channel, or a user group subteam^S0123ABC)"
            raise ValueError(msg)
        return value

    @field_validator("cooldown")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            msg = "must be > 0"
            raise ValueError(msg)
        return value


def _example_text(value: Any) -> Any:
    if isinstance(value, str) and not normalize_text(value):
        msg = "an example must not be empty"
        raise ValueError(msg)
    return value


ExampleText = Annotated[str, BeforeValidator(_example_text), Field(max_length=2_000)]


class ExampleFile(_Strict):
    """Examples kept in a JSON-lines file beside the watchlist, one ``{"text": ...}`` a line."""

    file: str

    @field_validator("file")
    @classmethod
    def _jsonl(cls, value: str) -> str:
        if not value.endswith(".jsonl"):
            msg = 'must name a JSON-lines file (name.jsonl, one {"text": ...} a line)'
            raise ValueError(msg)
        return value


def _example_kind(value: Any) -> str:
    return "example-file" if isinstance(value, dict | ExampleFile) else "example-texts"


#: Inline texts, or a file; after loading (monitors.watchlist) always the texts.
Examples = Annotated[
    Annotated[Annotated[tuple[ExampleText, ...], Field(min_length=1)], Tag("example-texts")]
    | Annotated[ExampleFile, Tag("example-file")],
    Discriminator(_example_kind),
]


def _gate_kind(value: Any) -> str:
    return "gate-block" if isinstance(value, dict | Block) else "gate-terms"


#: A list of terms (any one opens the gate), or a condition block that must hold.
Gate = Annotated[
    Annotated[Terms, Tag("gate-terms")] | Annotated[Block, Tag("gate-block")],
    Discriminator(_gate_kind),
]


class Semantic(_Strict):
    """How a topic's examples are used: threshold, near-miss margin, counter margin and gate."""

    threshold: float = Field(default=0.6, ge=0, le=1)
    margin: float = Field(default=0.05, ge=0, le=1)
    counter_margin: float = Field(default=0.0, ge=0, le=1)
    gate: Gate | None = None

    def gate_block(self) -> Block | None:
        """The gate as a condition block (a list of terms is ``any``), or None for the default."""
        if self.gate is None or isinstance(self.gate, Block):
            return self.gate
        return Block(any=self.gate)


class Topic(Block):
    """A watched topic: conditions (all must hold), alternatives, exclusions, alert settings.

    ``examples`` and ``counter_examples`` add a second way to match: by similarity of meaning
    (``semantic`` says how); a topic without examples matches by its rules alone.
    """

    id: Id
    name: str = ""
    description: str = ""
    fields: Annotated[tuple[FieldName, ...], Field(min_length=1)] | None = None
    title_weight: float | None = Field(default=None, ge=0, le=100)
    min_score: float = Field(default=0, ge=0)
    partial_rule_near_misses: bool | None = Field(
        default=None,
        description="Report articles that match a rule but for one part as near misses.",
    )
    rules: Annotated[tuple[Block, ...], Field(min_length=1)] | None = None
    exclude: Annotated[tuple[ExcludeItem, ...], Field(min_length=1)] | None = None
    examples: Examples | None = None
    counter_examples: Examples | None = None
    semantic: Semantic | None = None
    alert: AlertSettings = AlertSettings()

    @model_validator(mode="after")
    def _has_a_condition(self) -> Topic:
        if not self.has_conditions() and not self.rules:
            msg = f"needs at least one condition ({', '.join(CONDITIONS)}) or rules"
            raise ValueError(msg)
        if self.examples is None:
            given = [k for k in ("counter_examples", "semantic") if getattr(self, k) is not None]
            if given:
                msg = f"{' and '.join(given)} need examples"
                raise ValueError(msg)
        return self

    def example_texts(self) -> tuple[str, ...]:
        """The examples (empty when none; files are read when the watchlist is loaded)."""
        return self.examples if isinstance(self.examples, tuple) else ()

    def counter_example_texts(self) -> tuple[str, ...]:
        """The counter-examples (empty when none)."""
        return self.counter_examples if isinstance(self.counter_examples, tuple) else ()

    @property
    def exclusions(self) -> tuple[Block, ...]:
        """The exclusions as blocks (a bare term excludes by ``any``)."""
        return tuple(
            Block(any=(item,)) if isinstance(item, Term) else item for item in self.exclude or ()
        )

    @property
    def display_name(self) -> str:
        """The name alerts show."""
        return self.name or self.id


class WatchedEntity(_Strict):
    """A named thing found by its aliases, whether or not the NER recognises it."""

    label: Label
    aliases: Terms

    @field_validator("aliases")
    @classmethod
    def _aliases_are_text(cls, value: tuple[Term, ...]) -> tuple[Term, ...]:
        if any(term.text is None for term in value):
            msg = "aliases are plain text terms (no regex, no entity)"
            raise ValueError(msg)
        return value


class Defaults(_Strict):
    """Values every topic inherits unless it sets its own."""

    fields: Annotated[tuple[FieldName, ...], Field(min_length=1)] = ("title", "summary", "content")
    title_weight: float = Field(default=2.0, ge=0, le=100)
    partial_rule_near_misses: bool = False
    alert: AlertSettings = AlertSettings()


class WatchlistDocument(_Strict):
    """The whole YAML document, as written."""

    format: Literal[1] = 1
    defaults: Defaults = Defaults()
    entities: dict[Id, WatchedEntity] = Field(default_factory=dict)
    topics: Annotated[tuple[Topic, ...], Field(min_length=1)]


def schema_keys() -> frozenset[str]:
    """Every key the language knows (for "did you mean" hints)."""
    keys: set[str] = set()
    for model in (
        Term,
        Near,
        EntityTypes,
        Block,
        AlertSettings,
        ExampleFile,
        Semantic,
        Topic,
        WatchedEntity,
        Defaults,
        WatchlistDocument,
    ):
        keys.update(model.model_fields)
    return frozenset(keys)
