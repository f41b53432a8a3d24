"""`elasticthought datafiles`: upload archives (with a progress bar), fetch from URLs, list, show, delete."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from elasticthought.client.models.data import Datafile, DatafileCreated
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, size, table
from elasticthought.commands.progress import progress_for
from elasticthought.commands.runner import Context, UsageError, action, group_parser, run
from elasticthought.commands.waiting import end_code, wait_options

COLUMNS = (Column("id", lambda d: d.id), Column("name", lambda d: d.name), Column("state", lambda d: d.state),
           Column("size", lambda d: size(d.size)), Column("classes", lambda d: len(d.classes or {}) or None),
           Column("images", lambda d: d.image_count), Column("created", lambda d: d.created_at))


def describe(d: Datafile) -> str:
    classes = ", ".join(f"{name} ({count})" for name, count in sorted((d.classes or {}).items()))
    pairs: list[tuple[str, object]] = [
        ("id", d.id), ("name", d.name), ("source", d.source), ("state", d.state), ("size", size(d.size)),
        ("sha256", d.sha256), ("format", d.format), ("images", d.image_count), ("classes", classes or None),
        ("created", d.created_at)]
    if d.error:
        pairs += [("error", d.error), ("member", d.error_member)]
    return fields(pairs)


def upload(context: Context) -> int:
    args = context.args
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    bar = progress_for(f"uploading {path.name}", context.err, enabled=not args.no_progress)
    try:
        created = context.client.upload_datafile(path, name=args.name, progress=bar)
    finally:
        if bar is not None:
            bar.finish()
    return _created(context, created)


def fetch(context: Context) -> int:
    return _created(context, context.client.create_datafile_from_url(context.args.url_to_fetch))


def _created(context: Context, created: DatafileCreated) -> int:
    if not context.args.wait:
        context.show(created, lambda: created.id)
        return exit_codes.OK
    context.note(f"datafile {created.id} uploaded; waiting for the storage service to check it")
    found = context.client.wait_for_datafile(created.id, timeout_s=context.args.timeout, poll_s=context.args.poll)
    context.show(found, lambda: describe(found))
    return end_code(found.state)


def list_(context: Context) -> int:
    found = context.client.list_datafiles()
    context.show(found, lambda: table(found, COLUMNS))
    return exit_codes.OK


def show(context: Context) -> int:
    found = context.client.get_datafile(context.args.id)
    context.show(found, lambda: describe(found))
    return exit_codes.OK


def wait(context: Context) -> int:
    args = context.args
    found = context.client.wait_for_datafile(args.id, timeout_s=args.timeout, poll_s=args.poll)
    context.show(found, lambda: describe(found))
    return end_code(found.state)


def delete(context: Context) -> int:
    context.client.delete_datafile(context.args.id)
    context.note(f"deleted datafile {context.args.id}")
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("datafiles", __doc__.splitlines()[0] if __doc__ else "")
    p = action(actions, "upload", "upload an archive (tar, tar.gz, zip of one folder per class)", upload)
    p.add_argument("file")
    p.add_argument("--name", help="the name to record (default: the file's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (there is none unless stderr is a tty)")
    wait_options(p)
    p = action(actions, "fetch", "have the server fetch an archive from an http(s) or s3 URL", fetch)
    p.add_argument("url_to_fetch", metavar="URL")
    wait_options(p)
    action(actions, "list", "the tenant's datafiles", list_)
    action(actions, "show", "one datafile", show).add_argument("id")
    p = action(actions, "wait", "wait until a datafile is ready (exit 0) or rejected (exit 1)", wait)
    p.add_argument("id")
    wait_options(p, flag=False)
    action(actions, "delete", "delete a datafile and its blobs", delete).add_argument("id")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
