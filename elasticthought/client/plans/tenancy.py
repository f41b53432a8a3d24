"""Tenants, users, tokens and the caller."""

from __future__ import annotations

from elasticthought.client.calls import Call, Plan, fetch, fetch_items, nothing, segment
from elasticthought.client.models.tenancy import Me, Role, Tenant, Token, TokenCreated, UserCreated


def create_tenant(name: str) -> Plan[Tenant]:
    """Create a tenant (deployment administrator); its id is derived from the name."""
    return fetch(Call("POST", "/v1/tenants", json={"name": name}), Tenant)


def create_user(tenant_id: str, name: str, role: Role = "member") -> Plan[UserCreated]:
    """Add a user to a tenant (administrator, or the tenant's owner); the answer holds their first token."""
    return fetch(Call("POST", f"/v1/tenants/{segment(tenant_id)}/users", json={"name": name, "role": role}),
                 UserCreated)


def create_token(name: str = "") -> Plan[TokenCreated]:
    """Issue another token for the caller; its text is in the answer only."""
    return fetch(Call("POST", "/v1/tokens", json={"name": name}), TokenCreated)


def list_tokens() -> Plan[list[Token]]:
    """The caller's live tokens (never their secrets)."""
    return fetch_items(Call("GET", "/v1/tokens"), Token)


def revoke_token(token_id: str) -> Plan[None]:
    """Revoke one of your tokens (an owner: any token of the tenant)."""
    return nothing(Call("DELETE", f"/v1/tokens/{segment(token_id)}", expect="empty"))


def me() -> Plan[Me]:
    """Who the token belongs to."""
    return fetch(Call("GET", "/v1/me"), Me)
