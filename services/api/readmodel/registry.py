"""The projections every API instance keeps per tenant; add a new view's class here."""

from __future__ import annotations

from services.api.projections.classifiers import Classifiers
from services.api.projections.jobs import JobsView
from services.api.projections.tenants import TenantIds
from services.api.projections.webhooks import WebhookDeliveries, Webhooks
from services.api.projections.workers import WorkersView
from services.api.readmodel.projection import Projection
from services.api.readmodel.projections import Datafiles, Datasets, Solvers, Tokens, Users

PROJECTIONS: tuple[type[Projection], ...] = (Users, Tokens, Datafiles, Datasets, Solvers, JobsView, WorkersView,
                                              TenantIds, Webhooks, WebhookDeliveries, Classifiers)
