"""The classifiers a process keeps loaded: a bounded LRU with single-flight loading.

Loading a classifier (fetch the weights, build the net) costs far more than classifying one image,
so repeated calls must find it loaded. Bounded, because every model holds its weights in memory:
at most `size` models, the least recently used dropped first (`classifier_cache_size`). Single
flight, because a burst of requests for a cold classifier must load it once: the first caller
starts the load as a task, later callers await the same task. A caller that is cancelled (its
client went away) does not cancel the load the others wait for; a load that fails is not kept, so
the next call tries again.

Keys are (tenant, classifier id). `evict` drops a deleted classifier at once, including one still
loading (its result is then handed to the waiting callers but not kept). No torch here: the API
imports this at startup and loads models only when asked.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

M = TypeVar("M")
Key = tuple[str, str]


class ClassifierCache(Generic[M]):
    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache size must be 0 or more, got {size}")
        self.size = size
        self._models: OrderedDict[Key, M] = OrderedDict()
        self._loading: dict[Key, asyncio.Task[M]] = {}
        self.loads = 0  # loads started (for tests and metrics)

    async def get(self, tenant_id: str, classifier_id: str, load: Callable[[], Awaitable[M]]) -> M:
        """The loaded model, loading it with `load()` unless it is loaded or being loaded already."""
        key = (tenant_id, classifier_id)
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            return model
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = task
        return await asyncio.shield(task)

    def put(self, tenant_id: str, classifier_id: str, model: M) -> None:
        """Keep a model loaded elsewhere (e.g. while checking a new classifier)."""
        self._keep((tenant_id, classifier_id), model)

    def evict(self, tenant_id: str, classifier_id: str) -> None:
        key = (tenant_id, classifier_id)
        self._models.pop(key, None)
        self._loading.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._models

    def __len__(self) -> int:
        return len(self._models)

    async def _load(self, key: Key, load: Callable[[], Awaitable[M]]) -> M:
        self.loads += 1
        task = asyncio.current_task()
        try:
            model = await load()
        finally:
            if self._loading.get(key) is task:
                del self._loading[key]
            else:  # evicted while loading: hand it to the waiters, keep nothing
                task = None
        if task is not None:
            self._keep(key, model)
        return model

    def _keep(self, key: Key, model: M) -> None:
        if self.size == 0:
            return
        self._models[key] = model
        self._models.move_to_end(key)
        while len(self._models) > self.size:
            self._models.popitem(last=False)
