"""The detection pool keeps its deadline: one pathological article fails alone, the rest flow."""

from __future__ import annotations

import pytest

from streams.detection_pool import DetectionFailure, DetectionPool
from tests.streams.slow_detection import detect_slowly_on_demand, init_nothing


def article(n: int, title: str = "ordinary news") -> dict[str, object]:
    return {"id": f"a{n}", "title": title}


@pytest.fixture
def pool() -> DetectionPool:
    pool = DetectionPool(
        "unused",
        processes=1,
        timeout_s=2.0,
        detect_fn=detect_slowly_on_demand,
        init_fn=init_nothing,
    )
    yield pool
    pool.close()


async def test_pathological_article_times_out_alone(pool: DetectionPool) -> None:
    batch = [article(1), article(2, "PATHOLOGICAL"), article(3)]
    outcomes = await pool.detect("", "test", batch)
    assert [type(o).__name__ for o in outcomes] == ["dict", "DetectionFailure", "dict"]
    failure = outcomes[1]
    assert isinstance(failure, DetectionFailure) and failure.kind == "timeout"
    assert [o["article_id"] for o in outcomes if isinstance(o, dict)] == ["a1", "a3"]
    # The stuck process was replaced: the next batch is served promptly.
    assert await pool.detect("", "test", [article(4)]) == [
        {"article_id": "a4", "matches": [], "entities": []}
    ]


async def test_article_that_errors_is_reported_not_raised(pool: DetectionPool) -> None:
    outcomes = await pool.detect("", "test", [article(1, "CRASH"), article(2)])
    assert isinstance(outcomes[0], DetectionFailure) and outcomes[0].kind == "error"
    assert "cannot detect this" in outcomes[0].message
    assert outcomes[1] == {"article_id": "a2", "matches": [], "entities": []}


async def test_empty_batch_costs_nothing(pool: DetectionPool) -> None:
    assert await pool.detect("", "test", []) == []
