"""Solvers: a solver and a net prototxt with the summary the API computed when checking them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from elasticthought.client.models.base import ClientModel


class LayerSummary(ClientModel):
    name: str
    type: str
    top_shapes: list[list[int]]


class SolverSummary(ClientModel):
    layers: list[LayerSummary]
    parameter_count: int
    input_shape: list[int]
    num_outputs: int | None = None
    max_iter: int
    solver_type: str
    input_dependent_layers: list[str] = Field(default_factory=list)


class SolverCreated(ClientModel):
    id: str
    summary: SolverSummary


class Solver(ClientModel):
    id: str
    name: str
    summary: SolverSummary
    created_at: datetime
    solver_prototxt: str | None = None  # only from get_solver
    net_prototxt: str | None = None
