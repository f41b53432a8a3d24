"""`python -m bench.engines`: our engine vs real Caffe vs a hand-written PyTorch loop, one table.

Each (engine, net, device) runs in its own subprocess, one after another (never concurrently: on a
shared machine they would slow each other), in `--rounds` interleaved rounds; the table keeps each
one's best round, the usual defence against bursts of other work on a shared machine, and every
round's figure is printed too. The machine's load average is printed with the table, because
timings on a shared machine mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass

TARGETS = {"caffe": 1.8, "handwritten": 0.9, "handwritten-tuned": 0.9}
RSS_LIMIT = 1.2  # torch engine peak RSS <= 1.2x the hand-written loop's


@dataclass(frozen=True)
class Result:
    engine: str
    net: str
    device: str
    iter_per_s: float
    peak_rss_mib: float


def run_one(engine: str, net: str, device: str, iterations: int, warmup: int) -> Result | str:
    """One measurement in a fresh interpreter; an error message instead when it cannot run."""
    command = [sys.executable, "-m", "bench.engines.measure", engine, net, device,
               "--iterations", str(iterations), "--warmup", str(warmup)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{engine} on {net}/{device} failed: {last}"
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(engine, net, device, float(data["iter_per_s"]), float(data["peak_rss_mib"]))


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def plan(with_caffe: bool, cpu_nets: tuple[str, ...] = ("lenet",)) -> list[tuple[str, str, str]]:
    runs = []
    for net in cpu_nets:
        runs += [("torch", net, "cpu"), ("handwritten", net, "cpu"), ("handwritten-tuned", net, "cpu")]
        if with_caffe:
            runs.append(("caffe", net, "cpu"))
    if _cuda_available():
        for net in ("lenet", "cifar10_quick"):
            runs += [("torch", net, "cuda"), ("handwritten", net, "cuda"), ("handwritten-tuned", net, "cuda")]
    return runs


def table(results: list[Result]) -> str:
    lines = ["| net | device | engine | iter/s | peak RSS (MiB) | torch engine ratio |",
             "|---|---|---|---:|---:|---:|"]
    by_key = {(r.engine, r.net, r.device): r for r in results}
    for r in results:
        ours = by_key.get(("torch", r.net, r.device))
        ratio = f"{ours.iter_per_s / r.iter_per_s:.2f}x" if ours and r.engine != "torch" else ""
        lines.append(f"| {r.net} | {r.device} | {r.engine} | {r.iter_per_s:.1f} | "
                     f"{r.peak_rss_mib:.0f} | {ratio} |")
    return "\n".join(lines)


def verdicts(results: list[Result]) -> list[str]:
    by_key = {(r.engine, r.net, r.device): r for r in results}
    out = []
    for (engine, net, device), ours in ((k, v) for k, v in by_key.items() if k[0] == "torch"):
        del engine
        for other, target in TARGETS.items():
            theirs = by_key.get((other, net, device))
            if theirs:
                ratio = ours.iter_per_s / theirs.iter_per_s
                mark = "meets" if ratio >= target else "MISSES"
                out.append(f"- {net}/{device}: torch/{other} speed = {ratio:.2f} ({mark} >= {target})")
        for other in ("handwritten", "handwritten-tuned"):
            base = by_key.get((other, net, device))
            if base:
                ratio = ours.peak_rss_mib / base.peak_rss_mib
                mark = "meets" if ratio <= RSS_LIMIT else "MISSES"
                out.append(f"- {net}/{device}: torch/{other} peak RSS = {ratio:.2f} "
                           f"({mark} <= {RSS_LIMIT})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-caffe", action="store_true", help="skip real Caffe")
    parser.add_argument("--cpu-nets", default="lenet",
                        help="nets to time on the CPU, comma-separated: lenet, cifar10_quick (default lenet)")
    options = parser.parse_args(argv)
    load_before = os.getloadavg()
    best: dict[tuple[str, str, str], Result] = {}
    for round_number in range(1, options.rounds + 1):
        for engine, net, device in plan(not options.no_caffe, tuple(options.cpu_nets.split(","))):
            outcome = run_one(engine, net, device, options.iterations, options.warmup)
            if isinstance(outcome, str):
                print(outcome, file=sys.stderr)
                continue
            print(f"round {round_number}: {engine:17s} {net:14s} {device:5s} {outcome.iter_per_s:8.1f} iter/s "
                  f"{outcome.peak_rss_mib:7.0f} MiB", file=sys.stderr)
            key = (engine, net, device)
            if key not in best or outcome.iter_per_s > best[key].iter_per_s:
                best[key] = outcome
    results = list(best.values())
    load_after = os.getloadavg()
    print(table(results))
    print()
    print("\n".join(verdicts(results)))
    print(f"\nload average (1/5/15 min) before: {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after: {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; "
          f"{os.cpu_count()} CPUs; best of {options.rounds} rounds of {options.iterations} timed iterations "
          f"after {options.warmup} warm-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
