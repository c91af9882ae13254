"""A per-system circuit breaker: closed -> open after N consecutive failures -> half-open.

While open, calls fail at once (CircuitOpen) without touching the network. After the
cool-down exactly one call is let through as a probe; its outcome closes or reopens the
circuit, and every other call keeps failing fast until then.

Written here rather than taken from PyPI: purgatory and aiobreaker let every concurrent call
through in half-open state (no single probe), and read the wall clock directly, which makes
the cool-down untestable without sleeping. This one is small and takes a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be >= 1 and cooldown >= 0")
        self.threshold = threshold
        self.cooldown = cooldown
        #: Where the cool-down's time comes from (tests move a fake one by hand).
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False
        #: Clock time of the latest failure, for health reports.
        self.last_failure_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probe_in_flight or self.clock() - self._opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only the first caller is the probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def seconds_since_failure(self) -> float | None:
        return None if self.last_failure_at is None else self.clock() - self.last_failure_at

    def record_failure(self) -> None:
        self.last_failure_at = self.clock()
        self._failures += 1
        if self._probe_in_flight or self._failures >= self.threshold:
            self._opened_at = self.clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """A call that neither proved nor disproved health (e.g. 404) hands the probe back."""
        self._probe_in_flight = False
