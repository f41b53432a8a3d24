"""Storage benchmark: MNIST (10,000 PNGs) ingested and built into a dataset, and how images travel.

    python -m bench.storage [--backends embedded,production] [--repeat 2]

Two measurements per backend, side by side in one run:

- service: the real storage service on the backends (embedded: SQLite, in-process bus, local blob
  folder; production: the MongoDB-wire server, RabbitMQ and SeaweedFS named by the ET_TEST_*
  variables of scripts/test-servers.sh): upload the archive as the API does, wait for
  `DatafileAccepted`, request an 80/20 28x28 gray dataset, wait for `DatasetBuilt`. Seconds each.
- transfer: the 10,000 extracted images put into the blob store and read back, one blob per file
  (how datafiles were stored before) against packs (`shared.blobs.packs`), and the ratio.

Needs the MNIST digits (scripts/fetch-mnist.sh). Medians of `--repeat` rounds, with the load
average before and after, since these machines are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.storage.ingest import ingest_datafile
from services.storage.transfer import download_files, download_packed, upload_files, upload_packed
from shared.blobs import BlobStore
from shared.blobs.packs import DEFAULT_PACK_BYTES
from shared.events.data import DatafileAccepted, DatasetBuilt
from shared.runtime import open_backends
from shared.settings import Mode, Settings
from tests.integration.storage.conftest import remove_production_traces
from tests.integration.storage.harness import StorageHarness, running_storage
from tests.integration.storage.test_mnist_dataset import write_mnist_archive
from tests.support.mnist import FETCH_HINT, load_mnist, mnist_available

CONCURRENCY = 16
OUTCOME_TIMEOUT_S = 600.0


@dataclass
class Rounds:
    """Seconds per step, one entry per round."""

    steps: dict[str, list[float]] = field(default_factory=dict)

    def add(self, step: str, seconds: float) -> None:
        self.steps.setdefault(step, []).append(seconds)

    def median(self, step: str) -> float:
        return statistics.median(self.steps[step])


def settings_for(backend: str, data_dir: Path, run: str) -> Settings:
    base: dict[str, Any] = {"data_dir": data_dir, "storage_transfer_concurrency": CONCURRENCY}
    if backend == "embedded":
        return Settings(mode=Mode.EMBEDDED, **base)
    env = os.environ
    missing = [name for name in ("ET_TEST_MONGO_URL", "ET_TEST_S3_ENDPOINT", "ET_TEST_S3_ACCESS_KEY",
                                 "ET_TEST_S3_SECRET_KEY") if not env.get(name)]
    if missing:
        raise SystemExit(f"production needs {', '.join(missing)}: `set -a; . .cache/test-servers/env; set +a`")
    return Settings(
        mode=Mode.PRODUCTION, amqp_url=env.get("ET_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        amqp_exchange=run, queue_prefix=f"{run}.", mongo_url=env["ET_TEST_MONGO_URL"], mongo_db=run.replace("-", "_"),
        s3_endpoint=env["ET_TEST_S3_ENDPOINT"], s3_bucket=run, s3_access_key=env["ET_TEST_S3_ACCESS_KEY"],
        s3_secret_key=env["ET_TEST_S3_SECRET_KEY"], **base)


@asynccontextmanager
async def deployment(backend: str, data_dir: Path, run: str) -> AsyncIterator[StorageHarness]:
    settings = settings_for(backend, data_dir, run)
    try:
        async with open_backends(settings) as backends, running_storage(backends, settings) as harness:
            yield harness
    finally:
        if settings.mode is Mode.PRODUCTION:
            await remove_production_traces(settings)


async def timed(rounds: Rounds, step: str, action: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await action()
    rounds.add(step, time.perf_counter() - started)


async def service_round(storage: StorageHarness, archive: Path, rounds: Rounds) -> None:
    started = time.perf_counter()
    datafile_id = await storage.upload(archive)
    accepted = await storage.outcome(f"datafile-{datafile_id}", ("DatafileAccepted", "DatafileRejected"),
                                     OUTCOME_TIMEOUT_S)
    ingested = time.perf_counter()
    assert isinstance(accepted, DatafileAccepted), accepted
    dataset_id = await storage.request_dataset(datafile_id, side=28, color="gray", test_fraction=0.2, seed=1)
    built = await storage.outcome(f"dataset-{dataset_id}", ("DatasetBuilt", "DatasetFailed"), OUTCOME_TIMEOUT_S)
    assert isinstance(built, DatasetBuilt), built
    rounds.add("ingest", ingested - started)
    rounds.add("build", time.perf_counter() - ingested)
    rounds.add("ingest + build", time.perf_counter() - started)


async def transfer_round(blobs: BlobStore, tenant: str, files: Path, paths: list[str], scratch: Path,
                         round_: int, rounds: Rounds) -> None:
    """The same images both ways, on the same store, back to back."""
    single, packed = f"bench/{round_}/single/", f"bench/{round_}/packed/"
    names: list[str] = []

    async def put_packed() -> None:
        names.extend(await upload_packed(blobs, tenant, files, paths, packed, scratch=scratch,
                                         pack_bytes=DEFAULT_PACK_BYTES, concurrency=CONCURRENCY))

    await timed(rounds, "put, one blob per file", lambda: upload_files(blobs, tenant, files, paths, single,
                                                                        concurrency=CONCURRENCY))
    await timed(rounds, "put, packs", put_packed)
    await timed(rounds, "get, one blob per file", lambda: download_files(
        blobs, tenant, single, paths, scratch / f"single-{round_}", concurrency=CONCURRENCY))
    await timed(rounds, "get, packs", lambda: download_packed(
        blobs, tenant, packed, names, scratch / f"packed-{round_}", expected=frozenset(paths),
        concurrency=CONCURRENCY))
    await blobs.delete_prefix(tenant, f"bench/{round_}/")


async def bench_backend(backend: str, archive: Path, files: Path, paths: list[str], repeat: int) -> Rounds:
    rounds = Rounds()
    with tempfile.TemporaryDirectory(prefix="et-bench-storage-") as folder:
        run = f"bench-storage-{os.getpid()}"
        async with deployment(backend, Path(folder) / "data", run) as storage:
            for round_ in range(repeat):
                await service_round(storage, archive, rounds)
                scratch = Path(folder) / f"scratch-{round_}"
                scratch.mkdir()
                await transfer_round(storage.backends.blobs, storage.tenant_id, files, paths, scratch, round_,
                                     rounds)
    return rounds


def table(results: dict[str, Rounds], repeat: int) -> str:
    backends = list(results)
    lines = [f"| MNIST, 10,000 PNGs (median of {repeat}, s) | " + " | ".join(backends) + " |",
             "|---|" + "---:|" * len(backends)]
    for step in ("ingest", "build", "ingest + build", "put, one blob per file", "put, packs",
                 "get, one blob per file", "get, packs"):
        lines.append(f"| {step} | " + " | ".join(f"{results[b].median(step):.2f}" for b in backends) + " |")
    for kind in ("put", "get"):
        ratios = [results[b].median(f"{kind}, one blob per file") / results[b].median(f"{kind}, packs")
                  for b in backends]
        lines.append(f"| {kind}: packs faster by | " + " | ".join(f"{r:.1f}x" for r in ratios) + " |")
    return "\n".join(lines)


async def main(backends: list[str], repeat: int) -> None:
    if not mnist_available():
        raise SystemExit(f"the MNIST digits are missing: {FETCH_HINT}")
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="et-bench-mnist-") as folder:
        archive = write_mnist_archive(Path(folder) / "mnist.tar.gz", load_mnist())
        manifest = await asyncio.to_thread(ingest_datafile, archive, Path(folder) / "files")
        paths = [entry.path for entry in manifest.files]
        results = {backend: await bench_backend(backend, archive, Path(folder) / "files", paths, repeat)
                   for backend in backends}
    print(table(results, repeat))
    print(f"\nload average {before:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} cores; "
          f"transfers {CONCURRENCY} at a time, packs of up to {DEFAULT_PACK_BYTES >> 20} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backends", default="embedded,production",
                        help="comma-separated: embedded (local blobs), production (SeaweedFS, nx-27017, RabbitMQ)")
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.backends.split(","), arguments.repeat))
