"""A clock a test moves by hand, for anything that takes one: breakers' cool-downs, and the
wall clock that dates cache entries (`resolvers.loader.wall_clock`)."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now
