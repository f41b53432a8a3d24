"""`elasticthought workers|queue|status`: the deployment's workers (admin), the tenant's queue, server readiness."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, action, group_parser, run, single_parser

WORKERS = (Column("id", lambda w: w.id), Column("status", lambda w: w.status), Column("host", lambda w: w.host),
           Column("slots", lambda w: w.slots), Column("free", lambda w: w.free_slots), Column("gpus", lambda w: w.gpus),
           Column("engines", lambda w: w.engines), Column("running", lambda w: len(w.running_jobs)))
QUEUE = (Column("position", lambda j: j.position), Column("id", lambda j: j.id), Column("kind", lambda j: j.kind),
         Column("priority", lambda j: j.priority), Column("engine", lambda j: j.engine),
         Column("gpus", lambda j: j.gpus), Column("queued", lambda j: j.queued_at))


def list_workers(context: Context) -> int:
    found = context.client.list_workers()
    context.show(found, lambda: table(found, WORKERS))
    return exit_codes.OK


def set_slots(context: Context) -> int:
    worker = context.client.set_worker_slots(context.args.id, context.args.slots)
    context.show(worker, lambda: f"{worker.id}: {worker.slots} slots ({worker.free_slots} free)")
    return exit_codes.OK


def queue(context: Context) -> int:
    found = context.client.get_queue()
    context.show(found, lambda: table(found, QUEUE) if found else "the queue is empty")
    return exit_codes.OK


def status(context: Context) -> int:
    """Readiness needs no token: it works before `login`."""
    client = context.connect(require_token=False)
    ready = client.readyz()
    context.show(ready, lambda: fields([("server", client.url), ("ready", ready.ready),
                                        *sorted(ready.checks.items())]))
    return exit_codes.OK if ready.ready else exit_codes.UNAVAILABLE


def workers_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("workers", "the deployment's workers (deployment administrator)")
    action(actions, "list", "every worker with its capacity and running jobs", list_workers)
    p = action(actions, "set-slots", "change an online worker's slot count", set_slots)
    p.add_argument("id")
    p.add_argument("slots", type=int)
    return found


def workers_main(argv: Sequence[str]) -> int:
    return run(workers_parser(), argv)


def queue_main(argv: Sequence[str]) -> int:
    return run(single_parser("queue", "the tenant's queued jobs, next to run first", queue), argv)


def status_main(argv: Sequence[str]) -> int:
    return run(single_parser("status", "whether the server is ready (exit 6 if not)", status), argv)
