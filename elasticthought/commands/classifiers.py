"""`elasticthought classifiers|classify|classify-jobs`: make classifiers of trained jobs and classify images."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from elasticthought.client.models.classifiers import Classifier
from elasticthought.client.models.classify import ClassifyJob, ImageResult
from elasticthought.commands import exit_codes
from elasticthought.commands.output import Column, fields, size, table
from elasticthought.commands.progress import progress_for
from elasticthought.commands.runner import Context, UsageError, action, group_parser, run, single_parser
from elasticthought.commands.waiting import end_code, wait_options

CLASSIFIERS = (Column("id", lambda c: c.id), Column("name", lambda c: c.name or None),
               Column("job", lambda c: c.training_job_id), Column("iteration", lambda c: c.iteration),
               Column("labels", lambda c: len(c.labels)), Column("created", lambda c: c.created_at))
JOBS = (Column("id", lambda j: j.id), Column("state", lambda j: j.state),
        Column("classifier", lambda j: j.classifier_id), Column("images", lambda j: j.count),
        Column("top_k", lambda j: j.top_k), Column("queue", lambda j: j.queue_position),
        Column("submitted", lambda j: j.submitted_at))
URL_PREFIXES = ("http://", "https://")


def describe(c: Classifier) -> str:
    return fields([("id", c.id), ("name", c.name or None), ("training job", c.training_job_id),
                   ("iteration", c.iteration), ("dataset", c.dataset_id), ("labels", ", ".join(c.labels)),
                   ("image", f"{c.image.width}x{c.image.height} {c.image.color}, {c.image.resize_mode}"),
                   ("created", c.created_at)])


def results_table(results: Sequence[ImageResult]) -> str:
    """One row per image and rank: image, rank, label, probability (or the image's error)."""
    rows: list[tuple[str, int | None, str | None, float | None]] = []
    for result in results:
        if result.error or not result.predictions:
            rows.append((result.name, None, f"error: {result.error}" if result.error else None, None))
        rows += [(result.name, rank, p.label, p.probability) for rank, p in enumerate(result.predictions, start=1)]
    columns = (Column("image", lambda r: r[0]), Column("rank", lambda r: r[1]), Column("label", lambda r: r[2]),
               Column("probability", lambda r: None if r[3] is None else round(r[3], 4)))
    return table(rows, columns)


def describe_job(job: ClassifyJob) -> str:
    pairs: list[tuple[str, object]] = [
        ("id", job.id), ("state", job.state), ("classifier", job.classifier_id), ("images", job.count),
        ("top_k", job.top_k), ("queue position", job.queue_position), ("worker", job.worker_id),
        ("attempt", job.attempt), ("submitted", job.submitted_at), ("ended", job.ended_at)]
    if job.error:
        pairs.append(("error", job.error))
    return fields(pairs)


# --- classifiers ------------------------------------------------------------------------------


def create(context: Context) -> int:
    args = context.args
    found = context.client.create_classifier(args.job, args.iteration, name=args.name or "")
    context.show(found, lambda: found.id)
    return exit_codes.OK


def list_(context: Context) -> int:
    found = context.client.list_classifiers()
    context.show(found, lambda: table(found, CLASSIFIERS))
    return exit_codes.OK


def show(context: Context) -> int:
    found = context.client.get_classifier(context.args.id)
    context.show(found, lambda: describe(found))
    return exit_codes.OK


def delete(context: Context) -> int:
    context.client.delete_classifier(context.args.id)
    context.note(f"deleted classifier {context.args.id}")
    return exit_codes.OK


def download(context: Context) -> int:
    args = context.args
    target = Path(args.output or f"classifier-{args.id}.tar.gz")
    if not target.parent.is_dir() or target.is_dir():
        raise UsageError(f"cannot write {target}: give a file in an existing folder (-o FILE)")
    bar = progress_for(f"downloading {target.name}", context.err, enabled=True)
    try:
        written = context.client.download_classifier(args.id, to=target, progress=bar)
    finally:
        if bar is not None:
            bar.finish()
    result = {"classifier_id": args.id, "path": str(written), "size": written.stat().st_size}
    context.show(result, lambda: f"{written} ({size(written.stat().st_size)})")
    return exit_codes.OK


# --- classify ---------------------------------------------------------------------------------


def classify(context: Context) -> int:
    """Files and URLs cannot be mixed in one request: the API takes either multipart images or JSON URLs."""
    args = context.args
    urls = [image for image in args.images if image.startswith(URL_PREFIXES)]
    files = [image for image in args.images if not image.startswith(URL_PREFIXES)]
    if urls and files:
        raise UsageError("give image files or image URLs, not both in one call")
    missing = [name for name in files if not Path(name).is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    client = context.client
    if args.submit:
        accepted = client.submit_classify_job(args.classifier, files, urls=urls, top_k=args.top_k)
        context.show(accepted, lambda: accepted.id)
        return exit_codes.OK
    results = client.classify(args.classifier, files, urls=urls, top_k=args.top_k, timeout_s=args.timeout,
                              poll_s=args.poll)
    context.show(results, lambda: results_table(results))
    return exit_codes.OK


# --- classify jobs ----------------------------------------------------------------------------


def list_jobs(context: Context) -> int:
    found = context.client.list_classify_jobs(state=context.args.state, classifier_id=context.args.classifier)
    context.show(found, lambda: table(found, JOBS))
    return exit_codes.OK


def show_job(context: Context) -> int:
    job = context.client.get_classify_job(context.args.id)
    context.show(job, lambda: describe_job(job))
    return exit_codes.OK


def job_results(context: Context) -> int:
    found = context.client.get_classify_results(context.args.id)
    context.show(found, lambda: results_table(found.results))
    return exit_codes.OK


def cancel_job(context: Context) -> int:
    accepted = context.client.cancel_classify_job(context.args.id)
    context.show(accepted, lambda: f"{accepted.id} {accepted.state}")
    return exit_codes.OK


def wait_job(context: Context) -> int:
    args = context.args
    job = context.client.wait_for_classify_job(args.id, timeout_s=args.timeout, poll_s=args.poll)
    context.show(job, lambda: describe_job(job))
    return end_code(job.state)


# --- parsers ----------------------------------------------------------------------------------


def classifiers_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("classifiers", "classifiers: trained snapshots made usable")
    p = action(actions, "create", "make a classifier of a training job (default: its last snapshot)", create)
    p.add_argument("job", metavar="JOB", help="a succeeded training job's id")
    p.add_argument("--iteration", type=int, help="the snapshot to use (default: the last)")
    p.add_argument("--name")
    action(actions, "list", "the tenant's classifiers", list_)
    action(actions, "show", "one classifier", show).add_argument("id")
    action(actions, "delete", "delete a classifier", delete).add_argument("id")
    p = action(actions, "download", "download the tar.gz (deploy.prototxt, caffemodel, labels, mean)", download)
    p.add_argument("id")
    p.add_argument("-o", "--output", metavar="FILE", help="default: classifier-<id>.tar.gz")
    return found


def classify_parser() -> argparse.ArgumentParser:
    found = single_parser("classify", "the top labels of each image (files, or http(s) URLs)", classify)
    found.add_argument("images", nargs="+", metavar="IMAGE")
    found.add_argument("--classifier", required=True, metavar="ID")
    found.add_argument("--top-k", type=int, default=5)
    found.add_argument("--submit", action="store_true", help="queue a classify job and print its id instead")
    wait_options(found, flag=False)
    return found


def classify_jobs_parser() -> argparse.ArgumentParser:
    found, actions = group_parser("classify-jobs", "classify jobs (many images through the queue)")
    p = action(actions, "list", "the tenant's classify jobs", list_jobs)
    p.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    p.add_argument("--classifier", metavar="ID")
    action(actions, "show", "one classify job", show_job).add_argument("id")
    action(actions, "results", "a succeeded job's results", job_results).add_argument("id")
    action(actions, "cancel", "cancel a classify job", cancel_job).add_argument("id")
    p = action(actions, "wait", "wait until it ends: exit 0 if it succeeded, 1 otherwise", wait_job)
    p.add_argument("id")
    wait_options(p, flag=False)
    return found


def classifiers_main(argv: Sequence[str]) -> int:
    return run(classifiers_parser(), argv)


def classify_main(argv: Sequence[str]) -> int:
    return run(classify_parser(), argv)


def classify_jobs_main(argv: Sequence[str]) -> int:
    return run(classify_jobs_parser(), argv)
