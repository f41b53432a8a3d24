"""`python -m bench.pipeline`: the training pipeline end to end, embedded and in production mode.

    python -m bench.pipeline [--mode embedded|production|both] [--only latency,log,drain] [--jobs N] ...

Per mode it starts a real deployment (`bench.pipeline.deployment`), creates tenants with a dataset
of synthetic digits, then measures, in this order on the same deployment:
- latency: submit-to-running with idle workers (`bench.pipeline.latency`);
- log: trainer log line -> SSE client, over a few LeNet jobs (`bench.pipeline.loglines`);
- drain: N queued jobs of many tenants, exactly once, jobs/s, fairness (`bench.pipeline.drain`);
- and throughout, the resident memory of the API process (`bench.pipeline.memory`): in production
  the `service api` process, embedded the whole `up` process (every service in it; trainers are
  child processes and not counted).
Then it prints one markdown table per measurement with the modes side by side. Production mode
needs the test servers' environment (`set -a; . .cache/test-servers/env; set +a`) and RabbitMQ.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.pipeline import drain, latency, loglines
from bench.pipeline.client import Api, session
from bench.pipeline.deployment import MODES, Deployment, Options, deployed
from bench.pipeline.feed import Feed
from bench.pipeline.memory import RssSampler
from bench.pipeline.report import ModeResult, drain_table, latency_table, log_table, memory_table
from bench.pipeline.workload import Tenant, add_solvers, create_tenants, lenet_solver, tiny_solver

PARTS = ("latency", "log", "drain")
QUIET_S = 2.0  # before an "idle" memory reading, let the last work settle


async def run_mode(mode: str, args: argparse.Namespace) -> ModeResult:
    with tempfile.TemporaryDirectory(prefix=f"bench-pipeline-{mode}-") as folder:
        options = Options(workers=args.workers, slots=args.slots, folder=Path(folder))
        async with deployed(mode, options) as deployment, session() as http:
            return await measure(deployment, Api(http, deployment.url), args)


async def measure(deployment: Deployment, api: Api, args: argparse.Namespace) -> ModeResult:
    result = ModeResult(deployment.mode, "`up` (all services)" if deployment.mode == "embedded" else "`service api`")
    memory = RssSampler(deployment.api_pid)
    tenants = await _setup(deployment, api, args, result, memory)
    async with contextlib.AsyncExitStack() as stack:
        feeds = [await stack.enter_async_context(Feed(api.session, api.url, t.token)) for t in tenants]
        await _parts(deployment, api, args, result, memory, tenants, feeds)
    for phase, kib in memory.peaks.items():
        _note(result, f"peak during {phase} (sampled every 0.2 s)", kib)
    await asyncio.sleep(QUIET_S)
    _note(result, "idle at the end", memory.rss_kib())
    _note(result, "VmHWM at the end (lifetime peak)", memory.hwm_kib())
    return result


async def _setup(deployment: Deployment, api: Api, args: argparse.Namespace, result: ModeResult,
                 memory: RssSampler) -> list[Tenant]:
    """The tenants, each with a dataset and the solvers; the API's memory noted before and after."""
    _note(result, "idle, just started", memory.rss_kib())
    count = args.tenants if "drain" in args.only else 1
    async with memory.phase("setup: tenants, datasets"):
        tenants = await create_tenants(api, deployment.admin, [f"tenant-{n:02d}" for n in range(count)])
    await asyncio.sleep(QUIET_S)
    _note(result, f"idle after {count} tenant(s) uploaded and built a dataset", memory.rss_kib())
    async with memory.phase("setup: solvers"):
        await add_solvers(api, tenants, [tiny_solver(args.iterations), lenet_solver(args.log_iterations, display=10)])
    await asyncio.sleep(QUIET_S)
    _note(result, "idle after the solvers were checked (the API's net check imports torch)", memory.rss_kib())
    return tenants


async def _parts(deployment: Deployment, api: Api, args: argparse.Namespace, result: ModeResult,
                 memory: RssSampler, tenants: list[Tenant], feeds: list[Feed]) -> None:
    first = tenants[0]
    if "latency" in args.only:
        _progress(deployment.mode, f"latency: {args.samples} jobs, one at a time")
        async with memory.phase("latency"):
            result.latency = await latency.measure(api, feeds[0], first, first.job("tiny", args.engine), args.samples)
    if "log" in args.only:
        _progress(deployment.mode, f"log: {args.log_jobs} LeNet jobs of {args.log_iterations} iterations")
        async with memory.phase("log"):
            lines = await loglines.measure(api, feeds[0], first, first.job("lenet", args.engine), args.log_jobs)
        result.log = (f"{args.log_jobs} LeNet jobs of {args.log_iterations} iterations at once", lines)
    if "drain" in args.only:
        for shape in args.shapes:
            _progress(deployment.mode, f"drain: {args.jobs} jobs of {args.tenants} tenants, {shape}")
            plan = drain.Plan(args.jobs, shape, args.engine, args.iterations, args.timeout)
            async with memory.phase(f"drain ({shape})"):
                result.drains.append(await drain.run(api, deployment, tenants, feeds, plan))


def _note(result: ModeResult, name: str, kib: int | None) -> None:
    if kib is not None:
        result.memory_kib[name] = kib


def _progress(mode: str, what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {mode}: {what}", file=sys.stderr, flush=True)


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    results = [await run_mode(mode, args) for mode in args.modes]
    load_after = os.getloadavg()
    print(f"pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after; engine {args.engine}; "
          f"{args.workers} worker(s) x {args.slots} slot(s); latency jobs: tiny net, {args.iterations} iterations\n")
    for text in (latency_table(results) if any(r.latency for r in results) else "",
                 log_table(results) if any(r.log or r.drains for r in results) else "",
                 drain_table(results), memory_table(results)):
        if text:
            print(text + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--engine", choices=["caffe", "torch"], default="caffe",
                        help="trainer engine of every job (caffe: far cheaper to start than torch's import)")
    parser.add_argument("--workers", type=int, default=2, help="worker services (processes in production)")
    parser.add_argument("--slots", type=int, default=1, help="slots per worker")
    parser.add_argument("--samples", type=int, default=20, help="latency: measured jobs (after one warm-up)")
    parser.add_argument("--iterations", type=int, default=10, help="iterations of a latency and drain job")
    parser.add_argument("--log-jobs", type=int, default=4, help="log: LeNet jobs submitted at once")
    parser.add_argument("--log-iterations", type=int, default=300, help="log: iterations of each LeNet job")
    parser.add_argument("--jobs", type=int, default=1000, help="drain: jobs in all")
    parser.add_argument("--tenants", type=int, default=10, help="drain: tenants")
    parser.add_argument("--shape", choices=[*drain.SHAPES, "both"], default="even", help="drain: jobs per tenant")
    parser.add_argument("--timeout", type=float, default=3600.0, help="drain: seconds before giving up")
    args = parser.parse_args(argv)
    args.modes = list(MODES) if args.mode == "both" else [args.mode]
    args.only = {part.strip() for part in args.only.split(",") if part.strip()}
    if unknown := args.only - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; expected {', '.join(PARTS)}")
    args.shapes = list(drain.SHAPES) if args.shape == "both" else [args.shape]
    if args.engine == "caffe" and not _caffe_built():
        parser.error("--engine caffe: real Caffe is not built (make caffe), or use --engine torch")
    return args


def _caffe_built() -> bool:
    from shared.caffe.paths import caffe_available

    return caffe_available()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
