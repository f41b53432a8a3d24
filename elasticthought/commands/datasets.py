"""`elasticthought datasets`: build a dataset from a ready datafile; list, show, wait, delete."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from elasticthought.client.models.data import Dataset, ImageSpec
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, action, group_parser, run
from elasticthought.commands.waiting import end_code, wait_options

COLUMNS = (Column("id", lambda d: d.id), Column("datafile", lambda d: d.datafile_id),
           Column("state", lambda d: d.state), Column("labels", lambda d: len(d.labels) or None),
           Column("train", lambda d: _count(d, "train")), Column("test", lambda d: _count(d, "test")),
           Column("shape", lambda d: "x".join(map(str, d.shape)) if d.shape else None),
           Column("created", lambda d: d.created_at))


def _count(d: Dataset, split: str) -> int | None:
    return sum(d.counts[split].values()) if d.counts and split in d.counts else None


def describe(d: Dataset) -> str:
    image = d.image
    pairs: list[tuple[str, object]] = [
        ("id", d.id), ("datafile", d.datafile_id), ("state", d.state),
        ("image", f"{image.width}x{image.height} {image.color}, {image.resize_mode}"),
        ("test fraction", d.test_fraction), ("seed", d.seed), ("labels", ", ".join(d.labels) or None),
        ("train images", _count(d, "train")), ("test images", _count(d, "test")),
        ("shape", "x".join(map(str, d.shape)) if d.shape else None), ("created", d.created_at)]
    if d.error:
        pairs.append(("error", d.error))
    return fields(pairs)


def create(context: Context) -> int:
    args = context.args
    image = ImageSpec(width=args.width, height=args.height, resize_mode=args.resize, color=args.color)
    created = context.client.create_dataset(args.datafile, image, test_fraction=args.test_fraction, seed=args.seed)
    if not args.wait:
        context.show(created, lambda: created.id)
        return exit_codes.OK
    context.note(f"dataset {created.id} requested; waiting for it to be built")
    found = context.client.wait_for_dataset(created.id, timeout_s=args.timeout, poll_s=args.poll)
    context.show(found, lambda: describe(found))
    return end_code(found.state)


def list_(context: Context) -> int:
    found = context.client.list_datasets()
    context.show(found, lambda: table(found, COLUMNS))
    return exit_codes.OK


def show(context: Context) -> int:
    found = context.client.get_dataset(context.args.id)
    context.show(found, lambda: describe(found))
    return exit_codes.OK


def wait(context: Context) -> int:
    args = context.args
    found = context.client.wait_for_dataset(args.id, timeout_s=args.timeout, poll_s=args.poll)
    context.show(found, lambda: describe(found))
    return end_code(found.state)


def delete(context: Context) -> int:
    context.client.delete_dataset(context.args.id)
    context.note(f"deleted dataset {context.args.id}")
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("datasets", __doc__.splitlines()[0] if __doc__ else "")
    p = action(actions, "create", "build a dataset (train/test split, resized) from a ready datafile", create)
    p.add_argument("datafile", help="the datafile's id")
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--color", choices=["gray", "rgb"], default="rgb")
    p.add_argument("--resize", choices=["squash", "crop", "fill", "half_crop"], default="squash")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    wait_options(p)
    action(actions, "list", "the tenant's datasets", list_)
    action(actions, "show", "one dataset", show).add_argument("id")
    p = action(actions, "wait", "wait until a dataset is ready (exit 0) or failed (exit 1)", wait)
    p.add_argument("id")
    wait_options(p, flag=False)
    action(actions, "delete", "delete a dataset and its blobs", delete).add_argument("id")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
