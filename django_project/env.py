"""Reading typed settings from environment variables, with errors that name the variable."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    raw = os.environ.get(name, "").strip() or default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip() or default


def client_settings(prefix: str, *, base_url: str, read_timeout: float, batch_size: int) -> dict:
    """The knobs every external HTTP client has, as `<PREFIX>_URL`, `<PREFIX>_READ_TIMEOUT`..."""
    return {
        "base_url": env_str(f"{prefix}_URL", base_url),
        **core_settings(prefix, read_timeout=read_timeout, batch_size=batch_size),
    }


def core_settings(prefix: str, *, read_timeout: float, batch_size: int) -> dict:
    """The knobs every external client has whatever its transport (timeouts, retries, the
    breaker, the bulkhead, the batch size), as `<PREFIX>_CONNECT_TIMEOUT` and so on."""
    return {
        "connect_timeout": env_float(f"{prefix}_CONNECT_TIMEOUT", 1.0, minimum=0.01),
        "read_timeout": env_float(f"{prefix}_READ_TIMEOUT", read_timeout, minimum=0.01),
        "max_attempts": env_int(f"{prefix}_MAX_ATTEMPTS", 3, minimum=1),
        "retry_budget": env_float(f"{prefix}_RETRY_BUDGET", 2.5, minimum=0.0),
        "breaker_threshold": env_int(f"{prefix}_BREAKER_THRESHOLD", 5, minimum=1),
        "breaker_cooldown": env_float(f"{prefix}_BREAKER_COOLDOWN", 30.0),
        # The system's bulkhead: calls in flight at once per worker, and the longest wait
        # for a free one (never past the budget of the requests waiting).
        "max_connections": env_int(f"{prefix}_MAX_CONNECTIONS", 20, minimum=1),
        "pool_timeout": env_float(f"{prefix}_POOL_TIMEOUT", 1.0, minimum=0.0),
        "batch_size": env_int(f"{prefix}_BATCH_SIZE", batch_size, minimum=1),
    }


def cache_settings(prefix: str, *, ttl: float, negative_ttl: float, stale_ttl: float) -> dict:
    """How long a system's answers stay fresh (`<PREFIX>_CACHE_TTL`), how long a "no such
    record" is trusted (`_NEGATIVE_TTL`), and how long a value may stand in when the system
    is down (`_STALE_TTL`)."""
    fresh = env_float(f"{prefix}_CACHE_TTL", ttl, minimum=0.0)
    return {
        "ttl": fresh,
        "negative_ttl": env_float(f"{prefix}_NEGATIVE_TTL", negative_ttl, minimum=0.0),
        "stale_ttl": max(fresh, env_float(f"{prefix}_STALE_TTL", stale_ttl, minimum=0.0)),
    }
