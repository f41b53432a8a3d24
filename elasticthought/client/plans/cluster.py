"""Workers of the deployment (administrator only)."""

from __future__ import annotations

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, segment
from elasticthought.client.models.workers import Worker


def list_workers() -> Plan[list[Worker]]:
    """Every worker with its capacity and running jobs."""
    return fetch_items(Call("GET", "/v1/workers"), Worker)


def set_worker_slots(worker_id: str, slots: int) -> Plan[Worker]:
    """Change an online worker's slot count at run time (lowering it stops nothing that runs)."""
    return fetch(Call("PATCH", f"/v1/workers/{segment(worker_id)}", json={"slots": slots}), Worker)
