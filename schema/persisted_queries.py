"""Persisted queries: Apollo's APQ protocol, and an allow-list mode for production.

GRAPHQL_PERSISTED_QUERIES:
- `apq` (default): a client may send `extensions.persistedQuery.sha256Hash` without the
  query; an unknown hash answers PERSISTED_QUERY_NOT_FOUND and the client retries with the
  query, which registers it once it validates (Apollo Client's persisted-query link).
- `only`: just the operations in GRAPHQL_PERSISTED_QUERIES_MANIFEST (Apollo's
  persisted-query manifest format) run, by id or by identical text; nothing registers.
- `off`: a hash answers PERSISTED_QUERY_NOT_SUPPORTED, so the link stops sending hashes.

Error codes follow Apollo Server and Apollo Router, which Apollo's clients understand.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.persisted_queries import (
    PERSISTED_QUERIES,
    find_persisted_query,
    register_persisted_query,
)
from schema.errors import coded_error
from schema.observability import GRAPHQL_ERRORS

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
#: Answers a persisted-query client acts on (retry with the query, or stop hashing): the view
#: sends them with 200 and no-cache, as Apollo Server does.
PERSISTED_QUERY_CODES = frozenset({PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_NOT_SUPPORTED})

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """An allow-list of operations: by id, and by the hash of their exact text."""

    by_id: Mapping[str, str]
    text_hashes: frozenset[str]


def parse_manifest(text: str, source: str) -> Manifest:
    """Apollo's format: `{"format": "apollo-persisted-query-manifest", "version": 1,
    "operations": [{"id", "body", "name", "type"}]}` (what `generate-persisted-query-manifest`
    writes)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{source} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "apollo-persisted-query-manifest":
        raise ImproperlyConfigured(f"{source} is not an apollo-persisted-query-manifest")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ImproperlyConfigured(f"{source} has no operations list")
    by_id: dict[str, str] = {}
    for index, operation in enumerate(operations):
        if not (
            isinstance(operation, dict)
            and isinstance(operation.get("id"), str)
            and isinstance(operation.get("body"), str)
            and operation["id"]
            and operation["body"].strip()
        ):
            raise ImproperlyConfigured(f"{source}: operation {index} needs a string id and body")
        by_id[operation["id"]] = operation["body"]
    return Manifest(by_id=by_id, text_hashes=frozenset(sha256_hex(b) for b in by_id.values()))


@functools.cache
def load_manifest(path: str) -> Manifest:
    """Read once per process (settings already refuse `only` without a path)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImproperlyConfigured(f"Cannot read the persisted-query manifest: {exc}") from None
    return parse_manifest(text, path)


def refusal(message: str, code: str) -> GraphQLError:
    """The error to raise, counted here: OperationMetrics never sees these (see schema/)."""
    outcome = "bad_request" if code == "BAD_REQUEST" else code.removeprefix("PERSISTED_QUERY_")
    PERSISTED_QUERIES.labels(outcome.lower()).inc()
    GRAPHQL_ERRORS.labels(code).inc()
    return coded_error(message, code)


def _persisted_query(extensions: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    raw = (extensions or {}).get("persistedQuery")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise refusal("Unsupported persisted query version; send version 1.", "BAD_REQUEST")
    if not isinstance(raw.get("sha256Hash"), str) or not raw["sha256Hash"]:
        raise refusal("persistedQuery.sha256Hash must be a non-empty string.", "BAD_REQUEST")
    return raw


class PersistedQueries(SchemaExtension):
    """Fills in the query from its hash before parsing; registers new ones once they validate."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        mode = settings.GRAPHQL_PERSISTED_QUERIES
        persisted = _persisted_query(context.operation_extensions)
        register: str | None = None
        if mode == "only":
            self._allow_listed_only(persisted)
        elif persisted is not None:
            if mode == "off":
                raise refusal("PersistedQueryNotSupported", PERSISTED_QUERY_NOT_SUPPORTED)
            register = await self._apq(persisted)
        self.validated = False
        yield
        if register and self.validated:
            await register_persisted_query(register, context.query or "")
            PERSISTED_QUERIES.labels("registered").inc()

    def on_validate(self) -> Iterator[None]:  # type: ignore[override]
        yield
        # Read here: later, field errors land in the same list.
        self.validated = not self.execution_context.pre_execution_errors

    async def _apq(self, persisted: Mapping[str, Any]) -> str | None:
        context = self.execution_context
        sha256_hash = persisted["sha256Hash"]
        if not _SHA256.fullmatch(sha256_hash):
            raise refusal("persistedQuery.sha256Hash must be 64 hex digits.", "BAD_REQUEST")
        if not context.query:
            found = await find_persisted_query(sha256_hash)
            if found is None:
                raise refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            context.query = found
            PERSISTED_QUERIES.labels("hit").inc()
            return None
        if sha256_hex(context.query) != sha256_hash:
            raise refusal("provided sha does not match query", "BAD_REQUEST")
        return sha256_hash

    def _allow_listed_only(self, persisted: Mapping[str, Any] | None) -> None:
        context = self.execution_context
        manifest = load_manifest(settings.GRAPHQL_PERSISTED_QUERIES_MANIFEST)
        if persisted is not None and not context.query:
            found = manifest.by_id.get(persisted["sha256Hash"])
            if found is None:
                raise refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            context.query = found
            PERSISTED_QUERIES.labels("hit").inc()
        elif not context.query or sha256_hex(context.query) not in manifest.text_hashes:
            raise refusal(
                "This server only runs operations from its persisted-query list.",
                PERSISTED_QUERY_NOT_IN_LIST,
            )
