"""When to poll a feed next: intervals, TTL / Cache-Control, Retry-After, back-off with jitter.

Pure functions and small strategy objects; time and randomness are passed in.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A server asking for more than a day is either wrong or means "never"; the back-off cap and
# the feed's health report cover the second case better than a week of silence.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` seconds of a Cache-Control header, or None."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Intervals:
    """The bounds every feed's schedule stays within."""

    default_s: float
    min_s: float
    max_s: float

    def after_success(
        self,
        configured_s: float | None,
        ttl_minutes: float | None,
        max_age_s: float | None,
        rng: random.Random,
    ) -> float:
        """Seconds until the next poll after a successful one.

        The feed's own hints (RSS ``<ttl>``, ``Cache-Control: max-age``) can only lengthen the
        configured interval; the result is clamped to [min, max] and spread by up to +10% so that
        feeds loaded together do not stay in lock-step.
        """
        interval = configured_s or self.default_s
        for hint in (ttl_minutes * 60 if ttl_minutes else None, max_age_s):
            if hint:
                interval = max(interval, hint)
        interval = min(max(interval, self.min_s), self.max_s)
        return interval * (1.0 + 0.1 * rng.random())


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: ``base * 2**(streak-1)``, capped, then jittered.

    "Equal jitter": the wait is between half and all of the exponential value, so that it keeps
    growing while failing feeds still spread out.
    """

    base_s: float
    cap_s: float

    def delay(self, streak: int, rng: random.Random) -> float:
        """Seconds to wait after the ``streak``-th consecutive failure (streak >= 1)."""
        exponent = min(max(streak - 1, 0), 30)
        ceiling = min(self.cap_s, self.base_s * (2**exponent))
        return ceiling / 2 + rng.random() * ceiling / 2
