"""`elasticthought jobs`: submit, list, show, cancel and wait for training jobs; their log (live) and metrics."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from elasticthought.client.models.jobs import TrainingJob, TrainingMetrics
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, table
from elasticthought.commands.runner import Context, action, group_parser, run
from elasticthought.commands.waiting import end_code, wait_options

COLUMNS = (Column("id", lambda j: j.id), Column("state", lambda j: j.state), Column("engine", lambda j: _engine(j)),
           Column("iteration", lambda j: j.iteration), Column("max_iter", lambda j: j.max_iter),
           Column("queue", lambda j: j.queue_position), Column("submitted", lambda j: j.submitted_at))


def _engine(job: TrainingJob) -> str:
    return job.engine_used or job.engine


def describe(job: TrainingJob) -> str:
    outputs = {**{f"train {k}": v for k, v in job.train_outputs.items()},
               **{f"test {k}": v for k, v in job.test_outputs.items()}}
    pairs: list[tuple[str, object]] = [
        ("id", job.id), ("state", job.state), ("solver", job.solver_id), ("dataset", job.dataset_id),
        ("engine", _engine(job)), ("gpus", job.assigned_gpus or job.gpus), ("priority", job.priority),
        ("queue position", job.queue_position), ("iteration", f"{job.iteration} / {job.max_iter}"),
        ("lr", job.lr), *outputs.items(), ("worker", job.worker_id), ("attempt", job.attempt),
        ("snapshots", job.snapshots), ("submitted", job.submitted_at), ("started", job.started_at),
        ("ended", job.ended_at)]
    if job.cancel_requested and job.state not in ("cancelled",):
        pairs.append(("cancel requested", True))
    if job.error:
        pairs.append(("error", job.error))
    return fields(pairs)


def metrics_rows(metrics: TrainingMetrics) -> tuple[list[dict[str, Any]], list[Column]]:
    """One row per train or test point, in iteration order; a column per output name."""
    rows: list[dict[str, Any]] = [{"iteration": p.iteration, "phase": "train", "loss": p.loss, "lr": p.lr,
                                   **p.outputs} for p in metrics.train]
    rows += [{"iteration": p.iteration, "phase": "test", "loss": p.loss, "lr": None, **p.outputs}
             for p in metrics.test]
    rows.sort(key=lambda row: (row["iteration"], row["phase"] != "train"))
    names = sorted({name for row in rows for name in row} - {"iteration", "phase", "loss", "lr"})
    return rows, [Column(name, _key(name)) for name in ("iteration", "phase", "loss", "lr", *names)]


def _key(name: str) -> Callable[[dict[str, Any]], object]:
    return lambda row: row.get(name)


def submit(context: Context) -> int:
    args = context.args
    accepted = context.client.submit_training_job(args.solver, args.dataset, engine=args.engine, gpus=args.gpus,
                                                  priority=args.priority)
    if not args.wait:
        context.show(accepted, lambda: accepted.id)
        return exit_codes.OK
    context.note(f"job {accepted.id} queued; waiting for it to end")
    return _wait(context, accepted.id)


def _wait(context: Context, job_id: str) -> int:
    args = context.args
    job = context.client.wait_for_training_job(job_id, timeout_s=args.timeout, poll_s=args.poll)
    context.show(job, lambda: describe(job))
    return end_code(job.state)


def list_(context: Context) -> int:
    found = context.client.list_training_jobs(state=context.args.state)
    context.show(found, lambda: table(found, COLUMNS))
    return exit_codes.OK


def show(context: Context) -> int:
    job = context.client.get_training_job(context.args.id)
    context.show(job, lambda: describe(job))
    return exit_codes.OK


def cancel(context: Context) -> int:
    accepted = context.client.cancel_training_job(context.args.id)
    context.show(accepted, lambda: f"{accepted.id} {accepted.state}")
    return exit_codes.OK


def wait(context: Context) -> int:
    return _wait(context, context.args.id)


def logs(context: Context) -> int:
    """The log as text (never JSON: it is the trainer's own output); -f follows it until the job ends."""
    client, job_id = context.client, context.args.id
    if not context.args.follow:
        context.out.write(client.get_training_log(job_id))
        return exit_codes.OK
    for line in client.follow_training_log(job_id):
        context.out.write(line + "\n")
        context.out.flush()
    return exit_codes.OK


def metrics(context: Context) -> int:
    found = context.client.get_training_metrics(context.args.id)

    def human() -> str:
        rows, columns = metrics_rows(found)
        return table(rows, columns) if rows else f"job {found.id} has reported no outputs yet"

    context.show(found, human)
    return exit_codes.OK


def parser() -> argparse.ArgumentParser:
    found, actions = group_parser("jobs", __doc__.splitlines()[0] if __doc__ else "")
    p = action(actions, "submit", "queue a training job", submit)
    p.add_argument("--solver", required=True, metavar="ID")
    p.add_argument("--dataset", required=True, metavar="ID")
    p.add_argument("--engine", choices=["auto", "torch", "caffe"], default="auto")
    p.add_argument("--gpus", type=int, default=0, help="GPUs the job needs (0: a CPU slot)")
    p.add_argument("--priority", type=int, default=0, help="higher runs first among the tenant's jobs")
    wait_options(p)
    p = action(actions, "list", "the tenant's training jobs, newest first", list_)
    p.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    action(actions, "show", "one training job", show).add_argument("id")
    action(actions, "cancel", "cancel a queued or running job", cancel).add_argument("id")
    p = action(actions, "wait", "wait until the job ends: exit 0 if it succeeded, 1 if it failed or was cancelled",
               wait)
    p.add_argument("id")
    wait_options(p, flag=False)
    p = action(actions, "logs", "the trainer's log", logs)
    p.add_argument("id")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    action(actions, "metrics", "the parsed outputs (loss, accuracy, lr) by iteration", metrics).add_argument("id")
    return found


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
