"""The executor that completes plain leaf fields in one loop (schema/execution.py) answers
exactly as graphql-core's own path does, errors and all, and only skips work."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from django_project.properties.models import Property
from schema import schema as product_schema
from schema.execution import PropertyGraphExecutor


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Record:
    name: str
    count: int | None
    price: decimal.Decimal | None
    colour: Colour | None
    day: datetime.date | None
    flag: bool | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


class Awaiting(SimpleNamespace):
    """A record whose `count` is awaitable (a new coroutine at each read)."""

    @property
    def count(self) -> Any:
        return _later(7)


class Broken:
    """A record whose `count` fails to read (not with AttributeError)."""

    name = "broken"
    price = colour = day = flag = None

    @property
    def count(self) -> int:
        raise RuntimeError("the record could not be read")


def _records() -> list[Any]:
    good: dict[str, Any] = {
        "name": "a",
        "count": 3,
        "price": decimal.Decimal("1.50"),
        "colour": Colour.RED,
        "day": datetime.date(2026, 1, 2),
        "flag": True,
    }
    return [
        Record(**good),  # type: ignore[arg-type]
        SimpleNamespace(**{**good, "name": "b", "count": None, "colour": None}),
        SimpleNamespace(**{**good, "name": None}),  # a non-null field without a value
        SimpleNamespace(**{**good, "name": "d", "count": "many"}),  # not an Int
        Awaiting(**{**good, "name": "e"}),
        SimpleNamespace(**{k: v for k, v in good.items() if k != "flag"}),  # missing
        Broken(),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def records(self) -> list[Record | None]:
        return _records()

    @strawberry.field
    def first(self) -> Record:
        return _records()[0]


class ResolveCounter(SchemaExtension):
    """Resolver middleware: what graphql-core calls for every field it executes."""

    calls: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        ResolveCounter.calls.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def _schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    ours = strawberry.Schema(query=Query, execution_context_class=PropertyGraphExecutor, **kwargs)
    theirs = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext, **kwargs
    )
    return ours, theirs


def _answer(result: Any) -> tuple[Any, list[tuple[str, Any]]]:
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


QUERIES = [
    "{ records { name count price colour day flag shout __typename } }",
    "{ records { ...F flag } } fragment F on Record { day colour name }",
    "{ records { n: name c: count n2: name shout } }",
    "query($skip: Boolean!) { records { name count @skip(if: $skip) price @include(if: $skip) } }",
    "{ first { name count } records { count } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_answers_and_errors_as_graphql_core_does(query):
    ours, theirs = _schemas()
    variables = {"skip": True}
    mine, reference = (
        await ours.execute(query, variable_values=variables),
        await theirs.execute(query, variable_values=variables),
    )
    assert _answer(mine) == _answer(reference)
    assert list(mine.data or {}) == list(reference.data or {})
    for row, expected in zip(
        (mine.data or {}).get("records") or [], reference.data["records"], strict=True
    ):
        assert list(row or {}) == list(expected or {})  # the fields in the query's order
    assert reference.errors  # the bad rows did fail: the errors are compared too


async def test_only_fields_that_are_not_plain_leaves_are_executed_one_by_one(monkeypatch):
    executed: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def spy(self: Any, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
        executed.append(details[0].node.name.value)
        return original(self, parent_type, source, details, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", spy)
    ours, theirs = _schemas()
    query = "{ first { name count price colour day flag shout } }"
    assert _answer(await ours.execute(query)) == _answer(await theirs.execute(query))
    executed.clear()
    await ours.execute(query)
    assert sorted(executed) == ["first", "shout"]
    executed.clear()
    await theirs.execute(query)
    assert len(executed) == 8


async def test_resolver_middleware_still_sees_every_field():
    ours, theirs = _schemas(extensions=[ResolveCounter])
    query = "{ first { name count shout } }"
    ResolveCounter.calls = []
    mine = await ours.execute(query)
    seen = list(ResolveCounter.calls)
    ResolveCounter.calls = []
    reference = await theirs.execute(query)
    assert _answer(mine) == _answer(reference)
    assert sorted(seen) == sorted(ResolveCounter.calls) == ["count", "first", "name", "shout"]


def test_the_product_schema_uses_it():
    assert product_schema.execution_context_class is PropertyGraphExecutor


@pytest.mark.django_db
def test_a_page_of_the_product_reads_its_columns_from_the_rows(graphql, seeded, monkeypatch):
    """Model columns (schema/direct.py) complete as leaves too: none of a page's is executed
    field by field, and each holds the row's value (enums and decimals serialized)."""
    executed: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def spy(self: Any, parent_type: Any, source: Any, details: Any, *args: Any) -> Any:
        executed.append(f"{parent_type.name}.{details[0].node.name.value}")
        return original(self, parent_type, source, details, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", spy)
    body = graphql(
        "{ properties(pagination: {limit: 5}, ordering: [{id: ASC}]) { results "
        "{ id parcelId city listPrice status bedrooms updatedAt } } }"
    )

    assert "errors" not in body, body
    rows = Property.objects.order_by("id")[:5]
    assert body["data"]["properties"]["results"] == [
        {
            "id": str(row.pk),
            "parcelId": row.parcel_id,
            "city": row.city,
            "listPrice": str(row.list_price) if row.list_price is not None else None,
            "status": row.status.upper(),
            "bedrooms": row.bedrooms,
            "updatedAt": row.updated_at.isoformat(),
        }
        for row in rows
    ]
    assert not [name for name in executed if name.startswith("Property.")]
