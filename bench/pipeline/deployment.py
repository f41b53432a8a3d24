"""A running ElasticThought to measure: embedded (`elasticthought up`) or production (one process each).

Production mode runs `elasticthought service api|scheduler|storage` and `--workers` worker
processes against RabbitMQ, the MongoDB-wire server and S3 named by the test-server environment
(`ET_TEST_MONGO_URL`, `ET_TEST_S3_*`, `ET_TEST_AMQP_URL`), on a fresh exchange, queue prefix,
database and bucket, all removed afterwards, so runs never see each other. Every process writes
its output to a file in the run's folder; the tail of each is printed when something goes wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiohttp
from aiobotocore.session import get_session
from pymongo import AsyncMongoClient

from bench.pipeline.client import Api

ELASTICTHOUGHT = Path(sys.executable).parent / "elasticthought"
ADMIN = "bench-pipeline-admin-" + "b" * 32
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
MODES = ("embedded", "production")
SERVICE_QUEUES = ("scheduler", "storage", "api.probe")


class DeploymentError(RuntimeError):
    def __init__(self, mode: str, why: str, logs: str = "") -> None:
        super().__init__(f"{mode} deployment: {why}" + (f"\n{logs}" if logs else ""))
        self.mode, self.why = mode, why


@dataclass(frozen=True)
class Deployment:
    mode: str
    url: str
    admin: str
    api_pid: int
    """The process serving the API: `up` itself in embedded mode (every service inside it)."""
    worker_ids: list[str]
    slots: int
    """Slots per worker when the deployment is at rest."""
    pids: dict[str, int]
    """Every process of the deployment by name (`up`; or `api`, `scheduler`, `storage` and the workers)."""


@dataclass(frozen=True)
class Options:
    workers: int
    slots: int
    folder: Path


@contextlib.asynccontextmanager
async def deployed(mode: str, options: Options) -> AsyncIterator[Deployment]:
    if mode == "embedded":
        async with _embedded(options) as found:
            yield found
    else:
        async with _production(options) as found:
            yield found


@contextlib.asynccontextmanager
async def _embedded(options: Options) -> AsyncIterator[Deployment]:
    port = _free_port()
    async with _Processes(options.folder, _clean_environ()) as started:
        started.start("up", ["up", "--data-dir", str(options.folder / "data"), "--port", str(port), "--workers",
                             str(options.workers), "--slots", str(options.slots), "--admin-token", ADMIN])
        url = f"http://127.0.0.1:{port}"
        workers = await _wait_ready("embedded", url, options.workers, started)
        yield Deployment("embedded", url, ADMIN, started.pid("up"), workers, options.slots, started.pids())


@contextlib.asynccontextmanager
async def _production(options: Options) -> AsyncIterator[Deployment]:
    env = production_env(options.folder, f"bench-pipeline-{uuid.uuid4().hex[:10]}")
    worker_ids = [f"{env['ET_AMQP_EXCHANGE']}-w{n}" for n in range(1, options.workers + 1)]
    try:
        async with _Processes(options.folder, {**_clean_environ(), **env}) as started:
            for role in ("api", "scheduler", "storage"):
                started.start(role, ["service", role])
            for worker_id in worker_ids:
                started.start(worker_id, ["service", "worker", "--slots", str(options.slots)],
                              {"ET_WORKER_ID": worker_id})
            url = f"http://127.0.0.1:{env['ET_PORT']}"
            await _wait_ready("production", url, options.workers, started)
            yield Deployment("production", url, ADMIN, started.pid("api"), worker_ids, options.slots,
                             started.pids())
    finally:
        await remove_traces(env, worker_ids)


def production_env(folder: Path, name: str) -> dict[str, str]:
    """ET_* settings of one isolated production deployment on the test servers."""
    mongo, s3 = os.environ.get("ET_TEST_MONGO_URL"), os.environ.get("ET_TEST_S3_ENDPOINT")
    if not mongo or not s3:
        raise DeploymentError("production", "ET_TEST_MONGO_URL and ET_TEST_S3_ENDPOINT are not set: start the "
                              "servers (scripts/test-servers.sh start) and `set -a; . .cache/test-servers/env; set +a`")
    return {
        "ET_MODE": "production", "ET_DATA_DIR": str(folder / "local"), "ET_LOG_FORMAT": "json",
        "ET_AMQP_URL": os.environ.get("ET_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "ET_AMQP_EXCHANGE": name, "ET_QUEUE_PREFIX": f"{name}.", "ET_MONGO_URL": mongo,
        "ET_MONGO_DB": name.replace("-", "_"), "ET_S3_ENDPOINT": s3, "ET_S3_BUCKET": name,
        "ET_S3_ACCESS_KEY": os.environ.get("ET_TEST_S3_ACCESS_KEY", ""),
        "ET_S3_SECRET_KEY": os.environ.get("ET_TEST_S3_SECRET_KEY", ""),
        "ET_HOST": "127.0.0.1", "ET_PORT": str(_free_port()), "ET_ADMIN_TOKEN": ADMIN,
    }


async def remove_traces(env: dict[str, str], worker_ids: list[str]) -> None:
    """Delete the deployment's queues, exchanges, database and bucket (whatever of them exists)."""
    connection = await aio_pika.connect(env["ET_AMQP_URL"])
    async with connection:
        channel = await connection.channel()
        for queue in [*SERVICE_QUEUES, *(f"worker.{w}" for w in worker_ids)]:
            for suffix in ("", ".retry", ".dlq"):
                await channel.queue_delete(env["ET_QUEUE_PREFIX"] + queue + suffix)
        for exchange in (env["ET_AMQP_EXCHANGE"], f"{env['ET_AMQP_EXCHANGE']}.direct"):
            await channel.exchange_delete(exchange)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["ET_MONGO_URL"])
    async with client:
        await client.drop_database(env["ET_MONGO_DB"])
    await _remove_bucket(env)


async def _remove_bucket(env: dict[str, str]) -> None:
    bucket = env["ET_S3_BUCKET"]
    async with get_session().create_client(
        "s3", endpoint_url=env["ET_S3_ENDPOINT"], region_name="us-east-1",
        aws_access_key_id=env["ET_S3_ACCESS_KEY"], aws_secret_access_key=env["ET_S3_SECRET_KEY"],
    ) as s3:
        try:
            while listing := (await s3.list_objects_v2(Bucket=bucket)).get("Contents", []):
                await s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": i["Key"]} for i in listing]})
            await s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.NoSuchBucket:
            return


async def _wait_ready(mode: str, url: str, workers: int, started: _Processes) -> list[str]:
    """Until /readyz answers 200 and `workers` workers are online; their ids."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    api = Api(started.session, url)
    while time.monotonic() < deadline:
        started.check_alive(mode)
        with contextlib.suppress(aiohttp.ClientError):
            async with started.session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    listed = await api.call("GET", "/v1/workers", ADMIN)
                    online = sorted(w["id"] for w in listed["items"] if w["status"] == "online")
                    if len(online) >= workers:
                        return online
        await asyncio.sleep(0.2)
    raise DeploymentError(mode, f"not ready with {workers} workers online within {READY_TIMEOUT_S:.0f}s",
                          started.tails())


class _Processes:
    """Processes of one deployment, stopped with SIGTERM (SIGKILL after a while) when the block ends."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use the processes inside `async with`"
        return self._session

    def start(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen([str(ELASTICTHOUGHT), *args], stdout=log, stderr=log,
                                                  env={**self.env, **(extra or {})})

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.running.items()}

    def check_alive(self, mode: str) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise DeploymentError(mode, f"{name} exited with {process.returncode}", self.tails())

    def tails(self, lines: int = 15) -> str:
        parts = []
        for name in self.running:
            text = (self.folder / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(parts)

    async def __aenter__(self) -> _Processes:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.session.close()
        await asyncio.to_thread(self.stop_all)

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clean_environ() -> dict[str, str]:
    """This environment without ET_* settings (but where Caffe is): only what the benchmark sets configures
    the services."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("ET_") or k.startswith("ET_TEST_") or k == "ET_CAFFE_ROOT"}
