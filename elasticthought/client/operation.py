"""Descriptors that make one plan builder a method of both clients: blocking on `Client`, awaitable on `AsyncClient`.

`get_training_job = Operation(jobs.get_training_job, covers="get_training_job")` in the shared
`Api` class makes `Client().get_training_job(id) -> TrainingJob` and
`await AsyncClient().get_training_job(id)`, typed through the builder's own signature, with its
docstring. `covers` names the API operations (OpenAPI `operationId`s) the method performs; a test
checks that every operation of the spec is covered by some method.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, Generic, ParamSpec, TypeVar, overload

from elasticthought.client.calls import Plan
from elasticthought.client.streams import StreamSpec

P = ParamSpec("P")
T = TypeVar("T")


class SyncRunner(ABC):
    """Runs plans and streams with blocking I/O."""

    @abstractmethod
    def run_plan(self, plan: Plan[T]) -> T: ...

    @abstractmethod
    def run_stream(self, spec: StreamSpec[T]) -> Generator[T, None, None]: ...


class AsyncRunner(ABC):
    """Runs plans and streams on asyncio."""

    @abstractmethod
    async def run_plan(self, plan: Plan[T]) -> T: ...

    @abstractmethod
    def run_stream(self, spec: StreamSpec[T]) -> AsyncGenerator[T, None]: ...


def _covers(covers: str | tuple[str, ...]) -> tuple[str, ...]:
    return (covers,) if isinstance(covers, str) else covers


class Operation(Generic[P, T]):
    """A method that runs a plan to its result."""

    def __init__(self, build: Callable[P, Plan[T]], *, covers: str | tuple[str, ...] = ()) -> None:
        self.build = build
        self.covers = _covers(covers)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Operation[P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncRunner, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: object, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build
        if isinstance(obj, AsyncRunner):
            runner = obj

            @functools.wraps(build)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await runner.run_plan(build(*args, **kwargs))

            return run_async
        if isinstance(obj, SyncRunner):
            sync_runner = obj

            @functools.wraps(build)
            def run(*args: P.args, **kwargs: P.kwargs) -> T:
                return sync_runner.run_plan(build(*args, **kwargs))

            return run
        raise TypeError(f"{type(obj).__name__} is neither a sync nor an async runner")


class StreamOperation(Generic[P, T]):
    """A method returning a generator over a live answer (async on `AsyncClient`); closing it hangs up."""

    def __init__(self, build: Callable[P, StreamSpec[T]], *, covers: str | tuple[str, ...] = ()) -> None:
        self.build = build
        self.covers = _covers(covers)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> StreamOperation[P, T]: ...
    @overload
    def __get__(self, obj: SyncRunner, owner: type[Any]) -> Callable[P, Generator[T, None, None]]: ...
    @overload
    def __get__(self, obj: AsyncRunner, owner: type[Any]) -> Callable[P, AsyncGenerator[T, None]]: ...
    def __get__(self, obj: object, owner: type[Any]) -> Any:
        if obj is None:
            return self
        if not isinstance(obj, SyncRunner | AsyncRunner):
            raise TypeError(f"{type(obj).__name__} is neither a sync nor an async runner")
        runner, build = obj, self.build

        @functools.wraps(build)
        def open_stream(*args: P.args, **kwargs: P.kwargs) -> Generator[T, None, None] | AsyncGenerator[T, None]:
            return runner.run_stream(build(*args, **kwargs))

        return open_stream


def covered_operations(cls: type[Any]) -> dict[str, str]:
    """API operationId -> the method of `cls` that performs it."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Operation | StreamOperation):
                found.update(dict.fromkeys(value.covers, name))
    return found
