"""Extension hooks looked up once per class (schema/extension_hooks.py) run exactly as
strawberry's own runner runs them: same order, same exception handling, same answers."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from schema import schema as product_schema
from schema.extension_hooks import PlannedExtensionsRunner, hook_plan

#: What the extensions below did, in order, for one request.
events: list[str] = []


class GeneratorHooks(SchemaExtension):
    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        events.append("generator operation enter")
        yield
        events.append("generator operation exit")

    def on_parse(self) -> Iterator[None]:  # type: ignore[override]
        events.append("generator parse enter")
        yield
        events.append("generator parse exit")

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        events.append("generator execute enter")
        try:
            yield
        except Exception as error:
            events.append(f"generator execute saw {type(error).__name__}")
            raise
        events.append("generator execute exit")


class AsyncGeneratorHooks(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        await asyncio.sleep(0)
        events.append("async generator operation enter")
        yield
        events.append("async generator operation exit")

    async def on_validate(self) -> AsyncIterator[None]:  # type: ignore[override]
        events.append("async generator validate enter")
        yield
        events.append("async generator validate exit")


class CallableHooks(SchemaExtension):
    def on_validate(self) -> None:  # type: ignore[override]
        events.append("callable validate")

    async def on_execute(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        events.append("coroutine execute")

    def get_results(self) -> dict[str, Any]:
        return {"seen": len(events)}


class RefusesSomeOperations(SchemaExtension):
    """Refuses an operation named `Refused` before its yield, as the persisted-query step
    refuses; fails execution of one named `Broken` after entering."""

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        if self.execution_context.operation_name == "Refused":
            raise GraphQLError("refused here", extensions={"code": "REFUSED"})
        events.append("refuser operation enter")
        yield
        events.append("refuser operation exit")

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        if self.execution_context.operation_name == "Broken":
            raise RuntimeError("broken on entry")
        yield


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        events.append("resolver")
        return "world"

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError("the field fails")


EXTENSIONS = [GeneratorHooks, AsyncGeneratorHooks, CallableHooks, RefusesSomeOperations]


class PlannedSchema(strawberry.Schema):
    def create_extensions_runner(self, execution_context: Any, extensions: Any) -> Any:
        return PlannedExtensionsRunner(execution_context=execution_context, extensions=extensions)


stock = strawberry.Schema(query=Query, extensions=EXTENSIONS)
planned = PlannedSchema(query=Query, extensions=EXTENSIONS)


async def run(schema: strawberry.Schema, query: str, name: str | None = None) -> tuple[Any, ...]:
    events.clear()
    try:
        result = await schema.execute(query, operation_name=name)
    except Exception as error:  # noqa: BLE001 - compared below
        return ("raised", type(error).__name__, str(error), list(events))
    errors = [(e.message, e.path, e.extensions) for e in result.errors or []]
    return (result.data, errors, result.extensions, list(events))


QUERIES = [
    ("{ hello }", None),
    ("{ hello fails }", None),
    ("{ nope }", None),  # a validation error
    ("{ hello", None),  # a syntax error
    ("query Refused { hello }", "Refused"),
    ("query Broken { hello }", "Broken"),
]


@pytest.mark.parametrize(("query", "name"), QUERIES)
async def test_the_planned_runner_runs_hooks_as_strawberrys_runner_does(query, name):
    ours = await run(planned, query, name)
    theirs = await run(stock, query, name)
    assert ours == theirs
    assert theirs[-1], "the extensions did something to compare"


async def test_hooks_enter_in_order_and_exit_in_reverse():
    data, errors, extensions, seen = await run(planned, "{ hello }")
    assert data == {"hello": "world"}
    assert errors == []
    assert extensions == {"seen": len(seen)}  # results gathered after every hook exited
    assert seen == [
        "generator operation enter",
        "async generator operation enter",
        "refuser operation enter",
        "generator parse enter",
        "generator parse exit",
        "async generator validate enter",
        "callable validate",
        "async generator validate exit",
        "generator execute enter",
        "coroutine execute",
        "resolver",
        "generator execute exit",
        "refuser operation exit",
        "async generator operation exit",
        "generator operation exit",
    ]


async def test_a_hook_is_looked_up_once_per_class_not_per_request(monkeypatch):
    await run(planned, "{ hello }")
    looked_up: list[Any] = []
    real = inspect.isgeneratorfunction

    def counted(function: Any) -> bool:
        looked_up.append(function)
        return real(function)

    monkeypatch.setattr(inspect, "isgeneratorfunction", counted)
    for _ in range(3):
        await run(planned, "{ hello }")
    assert looked_up == []
    await run(stock, "{ hello }")
    assert looked_up, "strawberry's runner looks hooks up per request (the check can fail)"
    assert hook_plan(GeneratorHooks, "on_operation") is hook_plan(GeneratorHooks, "on_operation")
    assert hook_plan(CallableHooks, "on_parse") is None


def test_the_product_schema_uses_the_planned_runner():
    runner = product_schema.create_extensions_runner(None, [])
    assert isinstance(runner, PlannedExtensionsRunner)
