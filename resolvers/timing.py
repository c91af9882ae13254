"""Waiting on a busy event loop without mistaking its own lateness for a slow peer.

When a worker's event loop is saturated, a timer fires late, and asyncio runs it before the
task whose answer arrived meanwhile (I/O callbacks only schedule that task's wake-up): a
timeout then reports a healthy upstream, or Redis, as slow although the answer is sitting
unread. Both waits here check how late their timer ran and then wait on, for as long as it
was late and at most `grace`, a bounded number of times: the answer already there is read, a
peer that is really slow still times out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds a deadline timer may run late before the lateness counts as "the process was busy".
LATE_TOLERANCE = 0.02


async def wait_until(
    futures: list[asyncio.Future[Any]],
    deadline: float | None,
    *,
    grace: float = 0.0,
    extensions: int = 1,
) -> None:
    """Wait for `futures` until `deadline` (loop time; None waits for all). Never cancels
    them: other requests may be waiting on the same ones.

    When the deadline's timer itself runs late, the event loop was busy, not necessarily the
    peer slow: an answer may be sitting unread. The wait then goes on, for as long as the
    timer was late and at most `grace` seconds, up to `extensions` times (each only when the
    timer before it was late too), so a busy process does not report a healthy peer as slow.
    """
    pending = {future for future in futures if not future.done()}
    if not pending:
        return
    if deadline is None:
        await asyncio.wait(pending)
        return
    loop = asyncio.get_running_loop()
    target, left = deadline, extensions
    while True:
        now = loop.time()
        if now >= target:
            late = now - target
            if left <= 0 or late <= LATE_TOLERANCE or grace <= 0:
                return
            target, left = now + min(late, grace), left - 1
            continue
        _, pending = await asyncio.wait(pending, timeout=target - now)
        if not pending:
            return


#: How many times `within` waits on while the loop keeps running its timers late.
WITHIN_EXTENSIONS = 4


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`awaitable`'s result if it arrives within `seconds`, or later only while the loop is
    running its timers late (at most WITHIN_EXTENSIONS more times `seconds`: a saturated
    worker reads what Redis answered instead of fetching it upstream again); else it is
    cancelled and TimeoutError raised."""
    task = asyncio.ensure_future(awaitable)
    try:
        await wait_until(
            [task],
            asyncio.get_running_loop().time() + seconds,
            grace=seconds,
            extensions=WITHIN_EXTENSIONS,
        )
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not task.done():
        task.cancel()
        raise TimeoutError
    return task.result()
