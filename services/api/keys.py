"""Typed application state: every value the handlers read from the app, with its type."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from services.api.auth import TokenVerifier
from services.api.readiness import BusProbe
from services.api.readmodel import ReadModel
from services.api.training.tail import LogTail
from services.worker.classify.cache import ClassifierCache
from shared.bus.outbox import EventPublisher
from shared.runtime import Backends
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
BACKENDS = web.AppKey("backends", Backends)
BUS_PROBE = web.AppKey("bus_probe", BusProbe)
PUBLISHER = web.AppKey("publisher", EventPublisher)
READ_MODEL = web.AppKey("read_model", ReadModel)
VERIFIER = web.AppKey("token_verifier", TokenVerifier)
LOG_TAIL = web.AppKey("log_tail", LogTail)
SOLVER_CHECKS = web.AppKey("solver_checks", asyncio.Semaphore)  # net builds running at once (CPU, threads)
CLASSIFIERS = web.AppKey[ClassifierCache[Any]]("classifiers", ClassifierCache)  # loaded models (sync classify)
