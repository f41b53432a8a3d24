"""`elasticthought webhooks`: register URLs for the tenant's events; list, show, delete; deliveries, redeliver."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from elasticthought.client.models.webhooks import Webhook
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, action, group_parser, run

WEBHOOKS = (Column("id", lambda w: w.id), Column("url", lambda w: w.url), Column("events", lambda w: w.events),
            Column("created", lambda w: w.created_at))
DELIVERIES = (Column("id", lambda d: d.id), Column("event", lambda d: d.event_type), Column("state", lambda d: d.state),
              Column("attempts", lambda d: d.attempts), Column("status", lambda d: d.last_status_code),
              Column("error", lambda d: d.last_error or d.failure_reason), Column("next", lambda d: d.next_attempt_at),
              Column("created", lambda d: d.created_at))


def describe(hook: Webhook) -> str:
    pairs: list[tuple[str, object]] = [("id", hook.id), ("url", hook.url), ("events", ", ".join(hook.events)),
                                       ("created", hook.created_at), ("created by", hook.created_by)]
    if hook.deliveries is not None:
        counts = hook.deliveries
        pairs.append(("deliveries", f"{counts.pending} pending, {counts.succeeded} succeeded, {counts.failed} failed"))
    return fields(pairs)


def create(context: Context) -> int:
    args = context.args
    created = context.client.create_webhook(args.target_url, args.event, secret=args.secret)
    if created.secret:
        context.note(f"webhook {created.id} registered; its signing secret is shown this once:")
    context.show(created, lambda: created.secret or created.id)
    return exit_codes.OK


def list_(context: Context) -> int:
    found = context.client.list_webhooks()
    context.show(found, lambda: table(found, WEBHOOKS))
    return exit_codes.OK


def show(context: Context) -> int:
    found = context.client.get_webhook(context.args.id)
    context.show(found, lambda: describe(found))
    return exit_codes.OK


def delete(context: Context) -> int:
    context.client.delete_webhook(context.args.id)
    context.note(f"deleted webhook {context.args.id}")
    return exit_codes.OK


def deliveries(context: Context) -> int:
    args = context.args
    found = context.client.list_deliveries(args.id, state=args.state, limit=args.limit)
    context.show(found, lambda: table(found, DELIVERIES))
    return exit_codes.OK


def redeliver(context: Context) -> int:
    accepted = context.client.redeliver(context.args.id, context.args.delivery)
    context.show(accepted, lambda: f"{accepted.id} {accepted.state}")
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("webhooks", __doc__.splitlines()[0] if __doc__ else "")
    p = action(actions, "create", "post matching events to URL, signed; prints the generated secret once", create)
    p.add_argument("target_url", metavar="URL")
    p.add_argument("--event", action="append", required=True, metavar="PATTERN",
                   help="an event type or pattern ('TrainingJobSucceeded', 'Dataset*', '*'); repeatable")
    p.add_argument("--secret", help="the signing key to use (16+ characters; default: generated)")
    action(actions, "list", "the tenant's webhooks", list_)
    action(actions, "show", "one webhook with its delivery counts", show).add_argument("id")
    action(actions, "delete", "delete a webhook", delete).add_argument("id")
    p = action(actions, "deliveries", "a webhook's deliveries, newest first", deliveries)
    p.add_argument("id")
    p.add_argument("--state", choices=["pending", "succeeded", "failed"])
    p.add_argument("--limit", type=int)
    p = action(actions, "redeliver", "send a delivery again now", redeliver)
    p.add_argument("id")
    p.add_argument("delivery")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
