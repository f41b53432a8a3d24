"""The loaded-classifier cache: least recently used out first, one load per burst, failures not kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from services.worker.classify.cache import ClassifierCache


class Loads:
    """A loader that counts its calls and, when gated, waits until the test opens the gate."""

    def __init__(self, *, gated: bool = False) -> None:
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self.error: Exception | None = None

    def of(self, name: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            self.calls.append(name)
            await self.gate.wait()
            if self.error is not None:
                raise self.error
            return f"model {name}"

        return load


async def test_the_least_recently_used_model_is_dropped_first() -> None:
    cache: ClassifierCache[str] = ClassifierCache(2)
    loads = Loads()
    for name in ("a", "b", "a", "c", "a", "b"):
        assert await cache.get("t", name, loads.of(name)) == f"model {name}"
    assert loads.calls == ["a", "b", "c", "b"]  # b was the least recently used when c came
    assert ("t", "a") in cache and ("t", "b") in cache and len(cache) == 2


async def test_tenants_do_not_share_entries() -> None:
    cache: ClassifierCache[str] = ClassifierCache(4)
    loads = Loads()
    await cache.get("t1", "a", loads.of("a"))
    await cache.get("t2", "a", loads.of("a"))
    assert loads.calls == ["a", "a"]


async def test_concurrent_calls_for_a_cold_model_load_it_once() -> None:
    cache: ClassifierCache[str] = ClassifierCache(2)
    loads = Loads(gated=True)
    waiters = [asyncio.create_task(cache.get("t", "a", loads.of("a"))) for _ in range(5)]
    await asyncio.sleep(0)
    loads.gate.set()
    assert await asyncio.gather(*waiters) == ["model a"] * 5
    assert loads.calls == ["a"] and cache.loads == 1


async def test_a_failed_load_reaches_every_waiter_and_is_tried_again_next_time() -> None:
    cache: ClassifierCache[str] = ClassifierCache(2)
    loads = Loads(gated=True)
    loads.error = RuntimeError("weights are gone")
    waiters = [asyncio.create_task(cache.get("t", "a", loads.of("a"))) for _ in range(2)]
    await asyncio.sleep(0)
    loads.gate.set()
    for outcome in await asyncio.gather(*waiters, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
    assert ("t", "a") not in cache
    loads.error = None
    assert await cache.get("t", "a", loads.of("a")) == "model a"
    assert loads.calls == ["a", "a"]


async def test_a_cancelled_caller_does_not_cancel_the_load_others_wait_for() -> None:
    cache: ClassifierCache[str] = ClassifierCache(2)
    loads = Loads(gated=True)
    first = asyncio.create_task(cache.get("t", "a", loads.of("a")))
    second = asyncio.create_task(cache.get("t", "a", loads.of("a")))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    loads.gate.set()
    assert await second == "model a"
    assert ("t", "a") in cache and loads.calls == ["a"]


async def test_evicting_while_loading_keeps_nothing_but_answers_the_waiters() -> None:
    cache: ClassifierCache[str] = ClassifierCache(2)
    loads = Loads(gated=True)
    waiter = asyncio.create_task(cache.get("t", "a", loads.of("a")))
    await asyncio.sleep(0)
    cache.evict("t", "a")
    loads.gate.set()
    assert await waiter == "model a"
    assert ("t", "a") not in cache
    await cache.get("t", "a", loads.of("a"))
    assert loads.calls == ["a", "a"]


async def test_put_and_evict_and_a_zero_size_cache() -> None:
    cache: ClassifierCache[str] = ClassifierCache(1)
    cache.put("t", "a", "checked model a")
    loads = Loads()
    assert await cache.get("t", "a", loads.of("a")) == "checked model a"
    cache.evict("t", "a")
    assert await cache.get("t", "a", loads.of("a")) == "model a"
    none: ClassifierCache[str] = ClassifierCache(0)
    await none.get("t", "a", loads.of("a"))
    await none.get("t", "a", loads.of("a"))
    assert len(none) == 0 and loads.calls == ["a", "a", "a"]
    with pytest.raises(ValueError, match="0 or more"):
        ClassifierCache(-1)
