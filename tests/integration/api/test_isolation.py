"""Tenant isolation and roles, for EVERY route of the OpenAPI document (walked, not listed by hand).

- Another tenant's id answers 404 on every route with a path id (tenant A's real ids, asked for by
  tenant B's owner, who can do everything in B), and the resource is still there for A afterwards.
- No list or stream of B contains any of A's ids.
- A member cannot use owner or admin routes (403); an owner cannot use admin routes (403); no
  token is 401 on every route that is not public.

A new route with a path id needs an entry in `ids_for` (and a valid body in `BODIES` if it takes
one), or this test fails and says so: a route cannot slip past the isolation check.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from services.api.tokens import new_id, parse_token
from shared.events.data import DatafileAccepted, DatafileUploaded
from shared.events.webhooks import WebhookDeliveryScheduled, WebhookRegistered
from tests.integration.api.classifier_world import classifiable_job, create_classifier
from tests.integration.api.classify_world import submit_classify, succeed_classify
from tests.integration.api.jobs_world import ADMIN_TOKEN, TenantUsers, World

# Deployment-wide resources (not a tenant's): admin-only, checked by the role test instead.
DEPLOYMENT_PATHS = frozenset({"/v1/workers/{id}"})

# A valid body per operation that takes one, so that a refusal is about whose resource it is.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/v1/tenants"): {"name": "isolation probe"},
    ("post", "/v1/tenants/{id}/users"): {"name": "probe", "role": "member"},
    ("post", "/v1/tokens"): {"name": "probe"},
    ("post", "/v1/datafiles"): {"url": "https://example.org/digits.tar.gz"},
    ("post", "/v1/datasets"): {"datafile_id": "0" * 16, "test_fraction": 0.2, "seed": 1,
                               "image": {"width": 28, "height": 28, "resize_mode": "squash", "color": "gray"}},
    ("post", "/v1/solvers"): {"solver_prototxt": "base_lr: 0.01", "net_prototxt": "name: 'x'"},
    ("post", "/v1/training-jobs"): {"solver_id": "0" * 16, "dataset_id": "0" * 16},
    ("patch", "/v1/workers/{id}"): {"slots": 2},
    ("post", "/v1/classifiers"): {"training_job_id": "0" * 16},
    ("post", "/v1/classifiers/{id}/classify"): {"urls": ["https://example.org/digit.png"]},
}


@dataclass(frozen=True)
class Owned:
    """Tenant A's resources, one of each kind."""

    tenant: TenantUsers
    token_id: str
    datafile_id: str
    dataset_id: str
    solver_id: str
    job_id: str
    classify_job_id: str = ""
    classifier_id: str = ""
    webhook_id: str = ""
    delivery_id: str = ""

    def ids(self) -> set[str]:
        return {self.tenant.tenant_id, self.token_id, self.datafile_id, self.dataset_id, self.solver_id, self.job_id,
                self.tenant.owner_id, self.tenant.member_id, self.classify_job_id, self.classifier_id, self.webhook_id,
                self.delivery_id}


def ids_for(path: str, owned: Owned) -> dict[str, str] | None:
    """Tenant A's real values for the path's parameters; None for a path nobody taught this test."""
    if path.startswith("/v1/training-jobs/{id}"):
        return {"id": owned.job_id, "iteration": "50", "kind": "caffemodel"}
    if path.startswith("/v1/classify-jobs/{id}"):
        return {"id": owned.classify_job_id}
    if path.startswith("/v1/classifiers/{id}"):
        return {"id": owned.classifier_id}
    if path.startswith("/v1/webhooks/{id}"):
        return {"id": owned.webhook_id, "delivery_id": owned.delivery_id}
    return {
        "/v1/tenants/{id}/users": {"id": owned.tenant.tenant_id},
        "/v1/tokens/{id}": {"id": owned.token_id},
        "/v1/datafiles/{id}": {"id": owned.datafile_id},
        "/v1/datasets/{id}": {"id": owned.dataset_id},
        "/v1/solvers/{id}": {"id": owned.solver_id},
    }.get(path)


async def _owned(world: World) -> Owned:
    tenant = await world.tenant("alpha")
    parsed = parse_token(tenant.member)
    assert parsed is not None
    datafile_id = await _datafile(world, tenant.tenant_id)
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    _, job = await world.call("GET", f"/v1/training-jobs/{job_id}", tenant.member)
    classify_job_id = await submit_classify(world, tenant)
    await world.assign(tenant.tenant_id, classify_job_id)
    await succeed_classify(world, tenant.tenant_id, classify_job_id)  # its results exist for A
    classifier = await create_classifier(world, tenant, (await classifiable_job(world, tenant)).job_id)
    webhook_id, delivery_id = await _webhook(world, tenant.tenant_id)
    return Owned(tenant, parsed.token_id, datafile_id, job["dataset_id"], job["solver_id"], job_id,
                 classify_job_id=classify_job_id, classifier_id=classifier["id"], webhook_id=webhook_id,
                 delivery_id=delivery_id)


async def _datafile(world: World, tenant_id: str) -> str:
    datafile_id = new_id()
    await world.append(tenant_id, f"datafile-{datafile_id}", [
        DatafileUploaded(datafile_id=datafile_id, name="digits.tar.gz", blob_path=f"datafiles/{datafile_id}/archive",
                         size=10, sha256="0" * 64, uploaded_by="test"),
        DatafileAccepted(archive_path=f"datafiles/{datafile_id}/archive",
                         extracted_prefix=f"datafiles/{datafile_id}/files", size=10, sha256="0" * 64,
                         format="tar.gz", classes={"0": 5, "1": 5}, image_count=10),
    ])
    return datafile_id


async def _webhook(world: World, tenant_id: str) -> tuple[str, str]:
    """A webhook of A with one delivery, as the webhook route and the matcher record them."""
    webhook_id, delivery_id = new_id(), new_id()
    await world.append(tenant_id, f"webhook-{webhook_id}", [WebhookRegistered(
        webhook_id=webhook_id, url="http://127.0.0.1:9/hook", events=["DatasetDeleted"],
        secret_path=f"webhooks/{webhook_id}/secret", created_by="test")])
    await world.append(tenant_id, f"delivery-{delivery_id}", [WebhookDeliveryScheduled(
        delivery_id=delivery_id, webhook_id=webhook_id, event_id=uuid.uuid4(), event_type="DatasetDeleted",
        event_stream_id="dataset-x", event_stream_version=2, event_position=1)])
    return webhook_id, delivery_id


async def _spec(world: World) -> dict[str, Any]:
    status, spec = await world.call("GET", "/v1/openapi.json", None)
    assert status == 200
    return dict(spec)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def _fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _body(method: str, path: str, operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return {}
    assert (method, path) in BODIES, f"add a valid example body for {method.upper()} {path} to BODIES"
    return {"json": BODIES[(method, path)]}


async def test_another_tenants_id_is_404_on_every_route_that_takes_one(world: World) -> None:
    owned, intruder = await _owned(world), await world.tenant("beta")
    spec = await _spec(world)
    checked = []
    for method, path, operation in _operations(spec):
        if "{" not in path or path in DEPLOYMENT_PATHS:
            continue
        values = ids_for(path, owned)
        assert values is not None, f"teach ids_for the ids of {path} so its isolation is tested"
        url = _fill(path, values)
        status, answer = await world.call(method.upper(), url, intruder.owner, **_body(method, path, operation))
        assert status == 404, f"{method.upper()} {url} as another tenant: {status} {answer}"
        checked.append(f"{method} {path}")
    assert len(checked) >= 10, checked
    # Nothing happened to A's resources.
    for path in ("/v1/training-jobs/{id}", "/v1/datafiles/{id}", "/v1/datasets/{id}", "/v1/solvers/{id}",
                 "/v1/classify-jobs/{id}/results", "/v1/classifiers/{id}", "/v1/webhooks/{id}"):
        values = ids_for(path, owned)
        assert values is not None
        status, _ = await world.call("GET", _fill(path, values), owned.tenant.member)
        assert status == 200, path
    status, _ = await world.call("GET", "/v1/me", owned.tenant.member)
    assert status == 200, "tenant A's token must still work"


async def test_no_list_or_stream_shows_another_tenants_ids(world: World) -> None:
    owned, other = await _owned(world), await world.tenant("beta")
    await world.submit(other)
    spec = await _spec(world)
    listed = []
    for method, path, operation in _operations(spec):
        if method != "get" or "{" in path or operation["x-auth"] not in ("tenant", "owner"):
            continue
        text = await _read(world, path, operation, other)
        leaked = sorted(i for i in owned.ids() if i in text)
        assert not leaked, f"GET {path} for another tenant shows {leaked}"
        listed.append(path)
    assert {"/v1/training-jobs", "/v1/queue", "/v1/events", "/v1/datasets", "/v1/solvers",
            "/v1/classify-jobs", "/v1/classifiers"} <= set(listed)


async def _read(world: World, path: str, operation: dict[str, Any], tenant: TenantUsers) -> str:
    media = next(iter(operation["responses"]["200"].get("content", {"": None})))
    async with world.request("GET", path, tenant.member) as response:
        assert response.status == 200, path
        if media != "text/event-stream":
            body: str = await response.text()
            return body
        # A stream never ends: read what the tenant's log holds now, then stop.
        expected = len(await world.backends.store.read_log(tenant.tenant_id))
        chunks, events = [], 0
        async with asyncio.timeout(5):
            while events < expected:
                line = (await response.content.readline()).decode()
                chunks.append(line)
                events += line.startswith("id: ")
        return "".join(chunks)


@pytest.mark.parametrize("role", ["member", "owner"])
async def test_a_member_cannot_do_owner_things_and_nobody_but_the_admin_admin_things(world: World, role: str) -> None:
    owned = await _owned(world)
    token = owned.tenant.member if role == "member" else owned.tenant.owner
    forbidden = ("admin",) if role == "owner" else ("admin", "owner")
    spec = await _spec(world)
    refused = []
    for method, path, operation in _operations(spec):
        if operation["x-auth"] not in forbidden:
            continue
        values = ids_for(path, owned) or {"id": "w1"}
        status, answer = await world.call(method.upper(), _fill(path, values), token, **_body(method, path, operation))
        assert status == 403, f"{role}: {method.upper()} {path} answered {status} {answer}"
        refused.append(path)
    assert "/v1/workers" in refused and "/metrics" in refused
    assert role == "owner" or "/v1/tenants/{id}/users" in refused


async def test_every_route_but_the_public_ones_needs_a_token(world: World) -> None:
    spec = await _spec(world)
    for method, path, operation in _operations(spec):
        if operation["x-auth"] == "public":
            assert operation["security"] == []
            continue
        url = _fill(path, {"id": "0" * 16, "iteration": "1", "kind": "caffemodel"})
        status, _ = await world.call(method.upper(), url, None)
        assert status == 401, f"{method.upper()} {path} without a token: {status}"
        status, _ = await world.call(method.upper(), url, "et_nobody_" + "0" * 16 + "_" + "0" * 64)
        assert status == 401, f"{method.upper()} {path} with a forged token: {status}"


async def test_the_admin_token_reads_the_deployment_routes(world: World) -> None:
    status, workers = await world.call("GET", "/v1/workers", ADMIN_TOKEN)
    assert (status, workers) == (200, {"items": []})
