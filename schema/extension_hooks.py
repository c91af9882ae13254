"""Strawberry's extension hooks, looked up once per extension class instead of once per request.

For every request and every stage (operation, parsing, validation, execution) strawberry asks
each extension whether it implements the stage's hook (two `inspect` checks) and wraps the
hook in a new `contextlib.contextmanager` decorator (functools.wraps copying its attributes):
48 look-ups and 11 decorators a request for our twelve extensions, for answers that depend only
on the extension's class. Here the wrapped hook (the same `contextmanager`,
`asynccontextmanager` or call-then-yield wrapper strawberry builds) is made once per class and
stage, and a request only binds it to its extension. The hooks are then entered and exited by
strawberry's own stage context managers, in the same order, with the same exception handling.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from asyncio import iscoroutinefunction
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

#: (extension class, hook name) -> None when the class leaves the hook as SchemaExtension
#: has it, else (a factory taking the extension and returning its context manager, whether
#: that context manager is asynchronous).
_HookPlan = tuple[Callable[[SchemaExtension], Any], bool] | None
_plans: dict[tuple[type[SchemaExtension], str], _HookPlan] = {}


def hook_plan(extension_class: type[SchemaExtension], hook_name: str) -> _HookPlan:
    """How strawberry would wrap this class's hook (strawberry/extensions/context.py
    `get_hook`), made once."""
    key = (extension_class, hook_name)
    if key in _plans:
        return _plans[key]
    hook = getattr(extension_class, hook_name)
    plan: _HookPlan
    if hook is getattr(SchemaExtension, hook_name):
        plan = None
    elif inspect.isgeneratorfunction(hook):
        plan = (contextlib.contextmanager(hook), False)
    elif inspect.isasyncgenfunction(hook):
        plan = (contextlib.asynccontextmanager(hook), True)
    elif iscoroutinefunction(hook):
        plan = (_awaited_then_yield(hook), True)
    elif callable(hook):
        plan = (_called_then_yield(hook), False)
    else:
        raise ValueError(f"Hook {hook_name} on {extension_class} must be callable, got {hook!r}")
    _plans[key] = plan
    return plan


def _awaited_then_yield(hook: Callable[[SchemaExtension], Any]) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def entered(extension: SchemaExtension) -> AsyncIterator[None]:
        await hook(extension)
        yield

    return entered


def _called_then_yield(hook: Callable[[SchemaExtension], Any]) -> Callable[..., Any]:
    @contextlib.contextmanager
    def entered(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return entered


class _PlannedHooks(ExtensionContextManagerBase):
    """A stage's hooks from the plans; entered and exited by strawberry's own code."""

    __slots__ = ()

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        hooks = []
        for extension in extensions:
            plan = hook_plan(type(extension), self.HOOK_NAME)
            if plan is not None:
                hooks.append(WrappedHook(extension, functools.partial(plan[0], extension), plan[1]))
        self.hooks = hooks


class _Operation(_PlannedHooks, OperationContextManager):
    __slots__ = ()


class _Parsing(_PlannedHooks, ParsingContextManager):
    __slots__ = ()


class _Validation(_PlannedHooks, ValidationContextManager):
    __slots__ = ()


class _Executing(_PlannedHooks, ExecutingContextManager):
    __slots__ = ()


class PlannedExtensionsRunner(SchemaExtensionsRunner):
    """strawberry's runner, its four stages built from the per-class hook plans."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)


__all__ = ["PlannedExtensionsRunner", "hook_plan"]
