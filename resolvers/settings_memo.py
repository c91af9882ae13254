"""Values worked out from the settings once per process instead of on every request.

A warm detail query read each system's TTLs into a new CachePolicy and rebuilt each
system's client config to learn its batch size (for the cost limit), from settings that do
not change while the process runs: about 4% of its CPU time. What `from_settings`
remembers is forgotten when a setting changes (Django's `setting_changed` signal, which
`override_settings` and pytest-django's `settings` fixture send), so tests that change
settings see the change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.signals import setting_changed

F = TypeVar("F", bound=Callable[..., Any])

#: What to call when a setting changes.
_forget: list[Callable[[], None]] = []


def from_settings(function: F) -> F:
    """`functools.cache` for a function of its arguments and the settings (arguments must
    be hashable and few: the cache is unbounded)."""
    cached = functools.cache(function)
    _forget.append(cached.cache_clear)
    return cached  # type: ignore[return-value]


def on_settings_change(forget: Callable[[], None]) -> None:
    """Call `forget` whenever a setting changes (for memos `from_settings` does not fit)."""
    _forget.append(forget)


def _settings_changed(**_: Any) -> None:
    for forget in _forget:
        forget()


setting_changed.connect(_settings_changed, dispatch_uid="resolvers.settings_memo")

__all__ = ["from_settings", "on_settings_change"]
