"""Counting the upstream calls one GraphQL operation causes, without clients/ knowing GraphQL.

The clients count every call into `clients.metrics.calls_in_this_operation` when a tally is
set for the current context; the schema's metrics extension opens one per operation here.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

from clients.metrics import calls_in_this_operation
from resolvers.registry import integrations


@contextlib.contextmanager
def upstream_calls() -> Iterator[collections.Counter[str]]:
    """A tally of upstream calls by service, filled while the block runs."""
    tally: collections.Counter[str] = collections.Counter()
    token = calls_in_this_operation.set(tally)
    try:
        yield tally
    finally:
        calls_in_this_operation.reset(token)


def services() -> list[str]:
    """Every configured external system's service name."""
    return [i.service for i in integrations()]
