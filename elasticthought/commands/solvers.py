"""`elasticthought solvers`: create a solver from a solver and a net prototxt; list, show."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from elasticthought.client.models.solvers import Solver, SolverSummary
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, UsageError, action, group_parser, run

COLUMNS = (Column("id", lambda s: s.id), Column("name", lambda s: s.name or None),
           Column("solver", lambda s: s.summary.solver_type), Column("max_iter", lambda s: s.summary.max_iter),
           Column("params", lambda s: s.summary.parameter_count), Column("outputs", lambda s: s.summary.num_outputs),
           Column("created", lambda s: s.created_at))
LAYERS = (Column("layer", lambda layer: layer.name), Column("type", lambda layer: layer.type),
          Column("top shapes", lambda layer: " ".join("x".join(map(str, s)) for s in layer.top_shapes)))


def summary_text(summary: SolverSummary) -> str:
    head = fields([("solver type", summary.solver_type), ("max_iter", summary.max_iter),
                   ("parameters", summary.parameter_count), ("outputs", summary.num_outputs),
                   ("input shape", "x".join(map(str, summary.input_shape)))])
    return f"{head}\n\n{table(summary.layers, LAYERS)}"


def _read(path_text: str, what: str) -> str:
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such {what} file: {path}")
    return path.read_text()


def create(context: Context) -> int:
    args = context.args
    created = context.client.create_solver(_read(args.solver, "solver"), _read(args.net, "net"),
                                           name=args.name or "", dataset_id=args.dataset)
    context.show(created, lambda: created.id if args.quiet else f"solver {created.id}\n{summary_text(created.summary)}")
    return exit_codes.OK


def list_(context: Context) -> int:
    found = context.client.list_solvers()
    context.show(found, lambda: table(found, COLUMNS))
    return exit_codes.OK


def show(context: Context) -> int:
    found: Solver = context.client.get_solver(context.args.id)
    context.show(found, lambda: f"{fields([('id', found.id), ('name', found.name or None)])}\n"
                                f"{summary_text(found.summary)}")
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("solvers", __doc__.splitlines()[0] if __doc__ else "")
    p = action(actions, "create", "create a solver (422 names the line and column of a prototxt error)", create)
    p.add_argument("--solver", required=True, metavar="FILE", help="the solver prototxt")
    p.add_argument("--net", required=True, metavar="FILE", help="the train/test net prototxt")
    p.add_argument("--name")
    p.add_argument("--dataset", metavar="ID", help="a ready dataset: makes the summary's shapes exact")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the new solver's id")
    action(actions, "list", "the tenant's solvers", list_)
    action(actions, "show", "one solver with its summary", show).add_argument("id")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
