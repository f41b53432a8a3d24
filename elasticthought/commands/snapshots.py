"""`elasticthought snapshots`: list a training job's snapshots and download one (streamed to a file)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, size, table
from elasticthought.commands.progress import progress_for
from elasticthought.commands.runner import Context, UsageError, action, group_parser, run

COLUMNS = (Column("iteration", lambda s: s.iteration), Column("attempt", lambda s: s.attempt),
           Column("saved", lambda s: s.saved_at))


def list_(context: Context) -> int:
    found = context.client.list_snapshots(context.args.job)
    context.show(found, lambda: table(found, COLUMNS))
    return exit_codes.OK


def download(context: Context) -> int:
    args = context.args
    target = Path(args.output) if args.output else None
    if target is not None and target.is_dir():
        raise UsageError(f"{target} is a folder: give the file to write (-o FILE)")
    if target is None:
        iteration = args.iteration if args.iteration is not None else "latest"
        target = Path(f"{args.job}_iter_{iteration}.{args.kind}")
    if not target.parent.is_dir():
        raise UsageError(f"no such folder: {target.parent}")
    bar = progress_for(f"downloading {target.name}", context.err, enabled=True)
    try:
        written = context.client.download_snapshot(args.job, args.iteration, args.kind, to=target, progress=bar)
    finally:
        if bar is not None:
            bar.finish()
    result = {"job_id": args.job, "kind": args.kind, "path": str(written), "size": written.stat().st_size}
    context.show(result, lambda: f"{written} ({size(written.stat().st_size)})")
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("snapshots", __doc__.splitlines()[0] if __doc__ else "")
    action(actions, "list", "a training job's snapshots", list_).add_argument("job", metavar="JOB")
    p = action(actions, "download", "download a snapshot (default: the latest one's weights)", download)
    p.add_argument("job", metavar="JOB")
    p.add_argument("iteration", metavar="ITER", type=int, nargs="?", help="the snapshot's iteration (default: latest)")
    p.add_argument("--kind", choices=["caffemodel", "solverstate"], default="caffemodel")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: <job>_iter_<N>.<kind>)")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
