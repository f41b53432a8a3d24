"""`elasticthought events`: the tenant's events, live, one line each (resumable with --after)."""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Sequence

from elasticthought.client.models.events import ServerEvent
from elasticthought.commands import exit_codes
from elasticthought.commands.runner import Context, run, single_parser


def line(event: ServerEvent) -> str:
    occurred = str(event.envelope.get("occurred_at", ""))[:19].replace("T", " ")
    return f"{event.id}  {occurred}  {event.stream_id}  {event.type}  {json.dumps(event.data, sort_keys=True)}"


def follow(context: Context) -> int:
    """Prints until interrupted or `--count` events matched; --json prints one JSON envelope per line."""
    args = context.args
    seen = 0
    for event in context.client.events(last_event_id=args.after):
        if args.type and not any(fnmatch.fnmatchcase(event.type, pattern) for pattern in args.type):
            continue
        text = json.dumps({"id": event.id, **event.envelope}) if context.json else line(event)
        context.out.write(text + "\n")
        context.out.flush()
        seen += 1
        if args.count is not None and seen >= args.count:
            break
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found = single_parser("events", __doc__.splitlines()[0] if __doc__ else "", follow)
    found.add_argument("--after", type=int, metavar="ID", help="start after this event id (default: from the first)")
    found.add_argument("--type", action="append", metavar="PATTERN",
                       help="only events whose type matches (glob, e.g. 'TrainingJob*'); repeatable")
    found.add_argument("--count", type=int, metavar="N", help="stop after N events")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
