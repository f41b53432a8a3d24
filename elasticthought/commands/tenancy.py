"""`elasticthought tenants|users|tokens|whoami`: tenancy over the API (the admin token for tenants).

`elasticthought admin` does the same tenancy steps offline, on the event store; these go through
the running server like every other client command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, action, group_parser, run, single_parser

TOKENS = (Column("id", lambda t: t.id), Column("name", lambda t: t.name or None), Column("user", lambda t: t.user_id),
          Column("created", lambda t: t.created_at))


def create_tenant(context: Context) -> int:
    tenant = context.client.create_tenant(context.args.name)
    context.show(tenant, lambda: tenant.id)
    return exit_codes.OK


def create_user(context: Context) -> int:
    args = context.args
    user = context.client.create_user(args.tenant, args.name, role=args.role)
    context.note(f"user {user.id} ({user.role}) added to {user.tenant_id}; the token is shown this once:")
    context.show(user, lambda: user.token)
    return exit_codes.OK


def create_token(context: Context) -> int:
    token = context.client.create_token(context.args.name or "")
    context.note(f"token {token.id} issued; it is shown this once:")
    context.show(token, lambda: token.token)
    return exit_codes.OK


def list_tokens(context: Context) -> int:
    found = context.client.list_tokens()
    context.show(found, lambda: table(found, TOKENS))
    return exit_codes.OK


def revoke_token(context: Context) -> int:
    context.client.revoke_token(context.args.id)
    context.note(f"revoked token {context.args.id}")
    return exit_codes.OK


def whoami(context: Context) -> int:
    me = context.client.me()
    context.show(me, lambda: fields([("server", context.client.url), ("name", me.name), ("kind", me.kind),
                                     ("user", me.user_id), ("tenant", me.tenant_id), ("role", me.role),
                                     ("token", me.token_id)]))
    return exit_codes.OK


def tenants_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("tenants", "create tenants (deployment administrator)")
    action(actions, "create", "create a tenant; prints its id", create_tenant).add_argument("name")
    return found


def users_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("users", "add users to a tenant (administrator or the tenant's owner)")
    p = action(actions, "create", "add a user; prints their first token (shown once)", create_user)
    p.add_argument("tenant")
    p.add_argument("name")
    p.add_argument("--role", choices=["owner", "member"], default="member")
    return found


def tokens_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("tokens", "your API tokens")
    action(actions, "create", "issue another token for yourself; prints it (shown once)", create_token).add_argument(
        "--name")
    action(actions, "list", "your live tokens (never their secrets)", list_tokens)
    action(actions, "revoke", "revoke a token", revoke_token).add_argument("id")
    return found


def tenants_main(argv: Sequence[str]) -> int:
    return run(tenants_parser(), argv)


def users_main(argv: Sequence[str]) -> int:
    return run(users_parser(), argv)


def tokens_main(argv: Sequence[str]) -> int:
    return run(tokens_parser(), argv)


def whoami_main(argv: Sequence[str]) -> int:
    return run(single_parser("whoami", "who the configured token belongs to", whoami), argv)
