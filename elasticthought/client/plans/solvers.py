"""Solvers: a Caffe solver prototxt and its net prototxt, checked and summarised by the API."""

from __future__ import annotations

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, segment
from elasticthought.client.models.solvers import Solver, SolverCreated


def create_solver(solver_prototxt: str, net_prototxt: str, *, name: str = "",
                  dataset_id: str | None = None) -> Plan[SolverCreated]:
    """Create a solver; a prototxt error is `Invalid` with `extra` line, column and layer.

    With a ready `dataset_id` the summary's shapes are exact."""
    body: dict[str, str] = {"solver_prototxt": solver_prototxt, "net_prototxt": net_prototxt, "name": name}
    if dataset_id is not None:
        body["dataset_id"] = dataset_id
    return fetch(Call("POST", "/v1/solvers", json=body), SolverCreated)


def list_solvers() -> Plan[list[Solver]]:
    """The tenant's solvers, oldest first (without the prototxt texts)."""
    return fetch_items(Call("GET", "/v1/solvers"), Solver)


def get_solver(solver_id: str) -> Plan[Solver]:
    """One solver with its prototxt texts."""
    return fetch(Call("GET", f"/v1/solvers/{segment(solver_id)}"), Solver)
