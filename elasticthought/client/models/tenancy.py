"""Tenants, users, tokens and the caller, as the API answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from elasticthought.client.models.base import ClientModel

Role = Literal["owner", "member"]


class Tenant(ClientModel):
    id: str
    name: str


class UserCreated(ClientModel):
    """`token` is the new user's first token, shown this once."""

    id: str
    tenant_id: str
    name: str
    role: Role
    token_id: str
    token: str


class TokenCreated(ClientModel):
    id: str
    name: str
    token: str


class Token(ClientModel):
    id: str
    name: str
    user_id: str
    created_at: datetime


class Me(ClientModel):
    kind: Literal["admin", "user"]
    user_id: str
    name: str
    tenant_id: str | None
    role: Role | None
    token_id: str | None
