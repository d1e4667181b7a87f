"""``detect_mentions``: articles in, one match record per (article, topic) out.

Batches with ``take_events`` (always with ``within``) and runs detection in the process pool so
the event loop stays free. Every event has its own error boundary: a record that is not a valid
``articles.v1`` or that detection cannot finish goes to the dead-letter topic and the stream
moves on. Outputs are flushed before the batch is acknowledged (at-least-once).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from streams.agents import raw_topic
from streams.dead_letters import dead_letter
from streams.detection_pool import DetectionFailure
from streams.records import ArticleV1, EntityV1, EvidenceV1, MatchV1

if TYPE_CHECKING:
    import faust

    from streams.runtime import Runtime

log = logging.getLogger(__name__)
_LEAD_CHARS = 1000


def article_text(article: ArticleV1) -> dict[str, Any]:
    """The plain data detection needs (``monitors.article.ArticleText`` fields)."""
    return {
        "id": article.id,
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "link": article.link,
        "published": article.published.isoformat() if article.published else None,
        "source": article.source,
    }


def match_records(
    article: ArticleV1, result: dict[str, Any], version: str, now: datetime
) -> list[MatchV1]:
    """One ``MatchV1`` per matched topic of a detection result."""
    entities = tuple(EntityV1(**entity) for entity in result.get("entities", ()))
    return [
        MatchV1(
            article_id=article.id,
            topic=match["topic"],
            title=article.title,
            summary=(article.summary or article.content)[:_LEAD_CHARS],
            link=article.link,
            source=article.source,
            published=article.published,
            evidence=tuple(EvidenceV1(**evidence) for evidence in match.get("evidence", ())),
            snippet=match.get("snippet", ""),
            entities=entities,
            score=float(match.get("score", 0.0)),
            watchlist_version=match.get("watchlist_version") or version,
            matched_at=now,
        )
        for match in result.get("matches", ())
    ]


def register(app: faust.App, runtime: Runtime) -> Any:
    """Attach the agent to ``app``; returns it (tests drive it directly)."""
    settings, names = runtime.settings, runtime.topics
    articles = raw_topic(app, names.articles)
    matches = raw_topic(app, names.matches)
    dead_letters = raw_topic(app, names.articles_dead_letters)

    async def send_dead_letter(kind: str, error: str, value: Any, message: Any) -> None:
        raw = value if isinstance(value, bytes) else str(value).encode()
        record = dead_letter("detect", kind, error, raw, datetime.now(UTC), message)
        await dead_letters.send(key=message.key, value=record.to_json())
        runtime.metrics.dead_lettered("detect", kind)

    @app.agent(articles, name="detect_mentions", concurrency=1)
    async def detect_mentions(stream: Any) -> None:
        async for events in stream.take_events(
            settings.detect_batch_size, within=settings.detect_batch_seconds
        ):
            decoded: list[tuple[Any, ArticleV1]] = []
            for event in events:
                try:
                    decoded.append((event, ArticleV1.from_json(event.value)))
                except (ValidationError, ValueError, TypeError) as exc:
                    await send_dead_letter("invalid_record", str(exc), event.value, event.message)
            watchlist = runtime.watchlist.current
            started = datetime.now(UTC)
            outcomes = await runtime.pool.detect(
                watchlist.yaml, watchlist.source, [article_text(a) for _, a in decoded]
            )
            now = datetime.now(UTC)
            runtime.metrics.detected(len(decoded), (now - started).total_seconds())
            for (event, article), outcome in zip(decoded, outcomes, strict=True):
                # Kafka's record timestamp is when the poller published the article.
                runtime.metrics.detect_latency(now.timestamp() - event.message.timestamp)
                if isinstance(outcome, DetectionFailure):
                    await send_dead_letter(
                        outcome.kind, outcome.message, event.value, event.message
                    )
                    continue
                for record in match_records(article, outcome, watchlist.version, now):
                    await matches.send(key=record.topic.encode(), value=record.to_json())
                    runtime.metrics.matched(record.topic)
            # Outputs durable before take_events acknowledges the batch.
            await app.producer.flush()
            runtime.health.beat("detect")

    return detect_mentions
