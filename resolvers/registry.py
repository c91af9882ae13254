"""The external systems, as the resolver layer knows them: one `Integration` per system.

`resolvers/<name>.py` defines its system's INTEGRATION (how to build the client, which
loaders serve Property's fields, the name people read in errors); settings.EXTERNAL_SYSTEMS
lists the names. Everything that needs every system (the client factory, the per-request
loaders, error messages, metrics, /readyz, warm_cache, the benchmark) iterates
`integrations()` instead of naming the systems.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings

from clients.core import CoreConfig, ExternalClient
from clients.http import HttpConfig
from clients.pool import PoolFactory
from clients.sql import SqlConfig

if TYPE_CHECKING:
    from resolvers.loader import ExternalLoader


@dataclass(frozen=True, eq=False)
class Integration:
    """One external system: its service name, how to build its client, its loaders."""

    service: str
    #: How people name the system in error messages ("FileMaker", "The tax assessor").
    display_name: str
    #: The client's config, from the settings as they are now.
    config: Callable[[], CoreConfig]
    #: A client on a pool from the factory; keyword arguments replace config values (the
    #: benchmark points a client at an emulator with them).
    build_client: Callable[..., ExternalClient[Any]]
    #: The per-request loaders it serves, by the name the context gives them
    #: (`info.context.loaders.<name>`).
    loaders: Mapping[str, type[ExternalLoader[Any, Any]]]


def http_integration(
    *,
    service: str,
    display_name: str,
    config_class: Callable[..., HttpConfig],
    client_class: Callable[..., ExternalClient[Any]],
    loaders: Mapping[str, type[ExternalLoader[Any, Any]]],
) -> Integration:
    """An integration over HTTP whose client config is `settings.<SERVICE>` and whose client
    gets a pool of its own, sized like its bulkhead."""

    def config() -> HttpConfig:
        return config_class(**getattr(settings, service.upper()))

    def build_client(new_pool: PoolFactory, **overrides: Any) -> ExternalClient[Any]:
        client_config = dataclasses.replace(config(), **overrides)
        return client_class(
            client_config, http=new_pool(max_connections=client_config.max_connections)
        )

    return Integration(service, display_name, config, build_client, loaders)


def sql_integration(
    *,
    service: str,
    display_name: str,
    config_class: Callable[..., SqlConfig],
    client_class: Callable[..., ExternalClient[Any]],
    loaders: Mapping[str, type[ExternalLoader[Any, Any]]],
) -> Integration:
    """An integration over SQL whose client config is `settings.<SERVICE>`; the client keeps
    its own pool (an engine sized like its bulkhead)."""

    def config() -> SqlConfig:
        return config_class(**getattr(settings, service.upper()))

    def build_client(new_pool: PoolFactory, **overrides: Any) -> ExternalClient[Any]:
        return client_class(dataclasses.replace(config(), **overrides))

    return Integration(service, display_name, config, build_client, loaders)


def integrations() -> tuple[Integration, ...]:
    """Every configured system, in settings.EXTERNAL_SYSTEMS order."""
    return _integrations(tuple(settings.EXTERNAL_SYSTEMS))


@functools.cache
def _integrations(names: tuple[str, ...]) -> tuple[Integration, ...]:
    return tuple(import_module(f"resolvers.{name}").INTEGRATION for name in names)


def integration(service: str) -> Integration | None:
    return next((i for i in integrations() if i.service == service), None)


def loader_classes() -> Mapping[str, type[ExternalLoader[Any, Any]]]:
    """Every per-request loader of every system, by its name on the context."""
    return _loader_classes(integrations())


@functools.cache
def _loader_classes(
    found: tuple[Integration, ...],
) -> Mapping[str, type[ExternalLoader[Any, Any]]]:
    return {name: cls for i in found for name, cls in i.loaders.items()}


__all__ = [
    "Integration",
    "http_integration",
    "integration",
    "integrations",
    "loader_classes",
    "sql_integration",
]
