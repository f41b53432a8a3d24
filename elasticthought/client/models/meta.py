"""Health and readiness of the server."""

from __future__ import annotations

from pydantic import Field

from elasticthought.client.models.base import ClientModel


class Health(ClientModel):
    status: str


class Readiness(ClientModel):
    """`ready` is False when a backend did not answer (the server said 503); `checks` names each one's state."""

    ready: bool
    checks: dict[str, str]
    failed: list[str] = Field(default_factory=list)
