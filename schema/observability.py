"""Per-operation GraphQL metrics, including how many upstream calls each operation caused."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

from resolvers.upstream_tally import services, upstream_calls

GRAPHQL_OPERATIONS = Counter(
    "graphql_operations",
    "GraphQL operations executed, by operation name and type.",
    ["operation", "type"],
)
GRAPHQL_ERRORS = Counter(
    "graphql_errors",
    "Entries in GraphQL errors[], by extensions.code.",
    ["code"],
)
UPSTREAM_CALLS_PER_OPERATION = Histogram(
    "graphql_upstream_calls_per_operation",
    "Upstream calls one GraphQL operation caused, per system: the N+1 guard. With batching "
    "this stays at 0 or 1 per system for any page size up to the batch limits.",
    ["service"],
    buckets=(0, 1, 2, 3, 5, 10, 25, 50, 100),
)

#: Distinct operation names kept as label values; later names count as "other" (names come
#: from clients, and an unbounded label set would exhaust the metrics store).
MAX_OPERATION_NAMES = 200
_seen_names: set[str] = set()


def _operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    label = name[:64]
    if label in _seen_names:
        return label
    if len(_seen_names) < MAX_OPERATION_NAMES:
        _seen_names.add(label)
        return label
    return "other"


class OperationMetrics(SchemaExtension):
    """Also counts operations a later extension refuses by raising (the cost limit): those
    errors reach the result only after this hook ends."""

    def on_operation(self) -> Iterator[None]:
        raised: list[GraphQLError] = []
        with upstream_calls() as tally:
            try:
                yield
            except GraphQLError as refused:
                raised.append(refused)
                raise
            finally:
                context = self.execution_context
                try:
                    kind = context.operation_type.value
                except RuntimeError:  # the document did not parse: there is no operation
                    kind = "invalid"
                GRAPHQL_OPERATIONS.labels(_operation_label(context.operation_name), kind).inc()
                for error in (context.result.errors if context.result else None) or raised:
                    code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
                    GRAPHQL_ERRORS.labels(str(code)[:64]).inc()
                for service in services():
                    UPSTREAM_CALLS_PER_OPERATION.labels(service).observe(tally[service])
