"""The API's routes, one module per resource; each module exposes `table: RouteTable`.

A new resource adds its module to `ROUTE_MODULES`; `add_routes` is the one place that mounts them.
Routes are declared through `services.api.routing.RouteTable` (method, path, auth, models), so
the router and the OpenAPI document (`/v1/openapi.json`) come from the same declarations.
"""

from __future__ import annotations

from aiohttp import web

from services.api.routes import (
    classifiers,
    classify_jobs,
    datafiles,
    datasets,
    events,
    health,
    job_outputs,
    jobs,
    metrics,
    openapi,
    solvers,
    tenancy,
    webhooks,
    workers,
)
from services.api.routing import mount

ROUTE_MODULES = (health, openapi, metrics, tenancy, datafiles, datasets, solvers, jobs, job_outputs, classifiers,
                 classify_jobs, events, workers, webhooks)


def add_routes(app: web.Application) -> None:
    mount(app, (module.table for module in ROUTE_MODULES))
