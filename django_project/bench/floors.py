"""What the benchmark compares against: the upstreams' own time, and strawberry's own time.

- The upstream floor: each external system's batched fetch for a page's keys, timed directly
  against its emulator with the product's own client (no GraphQL, no cache).
- The strawberry floor: the same response built by strawberry from objects already in memory,
  executed synchronously: what GraphQL execution alone costs for that response.
- The detail floor schema: the warm detail query answered by strawberry alone, behind its own
  view (django_project/bench/views.py `strawberry_view`): the request-rate baseline for GraphQL.
"""

from __future__ import annotations

import statistics
import time
from types import SimpleNamespace
from typing import Any

import httpx
import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from django_project.bench.queries import ExternalField, external_fields
from django_project.properties.demo_data import demo_properties
from resolvers.registry import integration, loader_classes

#: Python types for the plain scalars the benchmark selects (Decimals come back as strings).
PYTHON_TYPES: dict[str, type] = {
    "String": str,
    "ID": str,
    "Int": int,
    "Float": float,
    "Boolean": bool,
    "Decimal": str,
}


async def upstream_floor(
    n: int, targets: dict[str, dict[str, str]], runs: int = 1
) -> dict[str, float]:
    """Milliseconds each external field's batched fetch of N demo properties' keys takes,
    directly against its system's stand-in (`targets`: the client settings pointing there):
    the median of `runs` fetches (one alone was once 355 ms for a fetch that takes 60-95,
    and the cold ratio's floor with it)."""
    rows = list(demo_properties(n))
    timings: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=600) as http:
        for field in external_fields():
            loader_class = field.loader
            found = integration(loader_class.service)
            if found is None:
                continue
            client = found.build_client(
                lambda **_: http, **targets[found.service], read_timeout=600
            )
            loader = loader_class(client, cache=None, policy=None)
            keys = [loader_class.key_for(row) for row in rows]
            await loader.fetch(keys[:1])  # sessions and connections open
            taken = []
            for _ in range(runs):
                started = time.perf_counter()
                await loader.fetch(keys)
                taken.append((time.perf_counter() - started) * 1000)
            timings[field.name] = statistics.median(taken)
            await client.aclose()
            if getattr(client, "http", None) is not http:  # a pool of its own (SQL)
                await client.close_pool()
    return timings


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _mirror(name: str, fields: dict[str, type]) -> type:
    """A strawberry type with these (nullable) fields, resolved by attribute."""
    annotations = {_snake(field): kind | None for field, kind in fields.items()}
    return strawberry.type(type(name, (), {"__annotations__": annotations}))


def floor_schema(rows: list[dict[str, Any]]) -> strawberry.Schema:
    """A schema answering the page query from `rows` (a warm response) held in memory."""
    fields = external_fields()
    graphql_types: dict[str, Any] = {
        f.name: list[_graphql_type(f)] if f.is_list else _graphql_type(f)  # type: ignore[misc]
        for f in fields
    }
    property_type = _mirror("Property", {"id": str, "parcelId": str, **graphql_types})

    def record(value: dict[str, Any]) -> Any:
        return SimpleNamespace(**{_snake(k): v for k, v in value.items()})

    def build(row: dict[str, Any]) -> Any:
        values = {_snake(k): v for k, v in row.items() if k in ("id", "parcelId")}
        for f in fields:
            value = row[f.name]
            if value is None:
                values[_snake(f.name)] = None
            elif f.is_list:
                values[_snake(f.name)] = [record(item) for item in value]
            else:
                values[_snake(f.name)] = record(value)
        return SimpleNamespace(**values)

    page_type = _mirror_list("Page", "results", property_type)
    page = SimpleNamespace(results=[build(r) for r in rows])

    def properties() -> Any:
        return page

    # Annotations made here, not written: this module's are strings (PEP 563).
    properties.__annotations__ = {"return": page_type}
    query = strawberry.type(
        type("Query", (), {"properties": strawberry.field(resolver=properties)})
    )
    return strawberry.Schema(query=query)


def _mirror_list(name: str, field: str, item: type) -> type:
    return strawberry.type(type(name, (), {"__annotations__": {field: list[item]}}))  # type: ignore[valid-type]


def _graphql_type(field: ExternalField) -> type:
    return _mirror(field.type_name, {name: PYTHON_TYPES[kind] for name, kind in field.scalars})


def strawberry_floor(rows: list[dict[str, Any]], query: str, runs: int) -> float:
    """Median milliseconds of executing `query` synchronously against the in-memory rows."""
    schema = floor_schema(rows)
    query = query.replace("(pagination: {limit: $limit})", "").replace("($limit: Int!)", "")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = schema.execute_sync(query)
        times.append((time.perf_counter() - started) * 1000)
        if result.errors:
            raise RuntimeError(f"floor schema failed: {result.errors}")
    return statistics.median(times)


def detail_floor_schema() -> strawberry.Schema:
    """`property(id:)` with every external field, answered from the row and the cache as
    the plain view reads them, typed with the product's own GraphQL types for the records
    (their fields read the clients' records by attribute); only strawberry's parser and
    validation caches as extensions."""
    from django_project.bench.views import cached_property
    from schema import schema as product_schema

    converted = product_schema.schema_converter.type_map
    fields = external_fields()
    annotations: dict[str, Any] = {"id": strawberry.ID, "parcel_id": str}
    for f in fields:
        record_type = converted[f.type_name].definition.origin  # type: ignore[union-attr]
        annotations[_snake(f.name)] = (list[record_type] if f.is_list else record_type) | None
    property_type = strawberry.type(type("Property", (), {"__annotations__": annotations}))
    names = {f.name: _snake(f.name) for f in fields}
    loader_names = {cls: name for name, cls in loader_classes().items()}

    async def property_(id: strawberry.ID) -> Any:  # noqa: A002 - the argument's GraphQL name
        prop, values = await cached_property(id)
        if prop is None:
            return None
        answer: dict[str, Any] = {"id": str(prop.pk), "parcel_id": prop.parcel_id}
        for f in fields:
            loader, value = values[loader_names[f.loader]]
            answer[names[f.name]] = None if value is None else loader.decode(value)
        return SimpleNamespace(**answer)

    property_.__annotations__ = {"id": strawberry.ID, "return": property_type | None}
    query = strawberry.type(
        type("Query", (), {"property": strawberry.field(resolver=property_, name="property")})
    )
    return strawberry.Schema(
        query=query,
        extensions=[lambda: ParserCache(maxsize=128), lambda: ValidationCache(maxsize=128)],
    )
