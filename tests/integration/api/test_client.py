"""The SDK and the CLI against the real API over real HTTP (embedded backends, events written as the services do).

The async client is used on the test's own event loop; the blocking client and the CLI run in a
thread, since the server answers on that same loop.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path

import pytest

from elasticthought.client import AsyncClient, Client, Invalid, NotFound, Unauthorized
from elasticthought.client.api import Api
from elasticthought.client.operation import covered_operations
from elasticthought.commands import datafiles, jobs, snapshots
from elasticthought.commands.runner import run
from tests.integration.api.jobs_world import TenantUsers, World, running_world
from tests.support.archives import class_folders, write_tar

SMALL_LIMIT = 100_000


async def _finished_job(world: World, tenant: TenantUsers) -> str:
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    await world.succeed(tenant.tenant_id, job_id)
    return job_id


def _cli(parser: Callable[[], argparse.ArgumentParser], argv: list[str], world: World,
         token: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(parser(), [*argv, "--url", world.url, "--token", token], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_an_upload_streams_with_progress_and_is_recorded_with_its_name_and_size(world: World,
                                                                                    tmp_path: Path) -> None:
    tenant = await world.tenant("uploads")
    archive = write_tar(tmp_path / "pets.tar.gz", class_folders(per_class=40), "gz")
    seen: list[tuple[int, int | None]] = []
    async with AsyncClient(world.url, tenant.member) as client:
        created = await client.upload_datafile(archive, progress=lambda done, total: seen.append((done, total)))
        shown = await client.get_datafile(created.id)
        listed = await client.list_datafiles()
    size = archive.stat().st_size
    assert created.state == "pending" and (shown.name, shown.size) == ("pets.tar.gz", size)
    assert [d.id for d in listed] == [created.id]
    assert seen[0] == (0, size) and seen[-1] == (size, size)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_cli_upload_draws_a_progress_bar_on_a_terminal_and_prints_the_id(world: World,
                                                                                  tmp_path: Path) -> None:
    tenant = await world.tenant("bar")
    archive = write_tar(tmp_path / "pets.tar.gz", class_folders(per_class=40), "gz")
    out, err = io.StringIO(), Terminal()
    argv = ["upload", str(archive), "--url", world.url, "--token", tenant.member]
    code = await asyncio.to_thread(run, datafiles.parser(), argv, out=out, err=err)
    assert code == 0
    datafile_id = out.getvalue().strip()
    frames = err.getvalue().split("\r")[1:]
    assert frames and frames[-1].startswith("uploading pets.tar.gz [" + "#" * 30 + "] 100%")
    async with AsyncClient(world.url, tenant.member) as client:
        assert (await client.get_datafile(datafile_id)).size == archive.stat().st_size


@pytest.fixture
async def small_uploads_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("ET_MAX_DATAFILE_BYTES", str(SMALL_LIMIT))
    async with running_world(tmp_path / "small") as found:
        yield found


async def test_an_upload_over_the_limit_exits_5_naming_the_limit(small_uploads_world: World, tmp_path: Path) -> None:
    world = small_uploads_world
    tenant = await world.tenant("limits")
    big = tmp_path / "big.tar.gz"
    big.write_bytes(b"\0" * (40 * SMALL_LIMIT))
    code, out, err = await asyncio.to_thread(_cli, datafiles.parser, ["upload", str(big)], world, tenant.member)
    assert (code, out) == (5, "")
    assert f"413 Request Entity Too Large: the upload is larger than the limit of {SMALL_LIMIT} bytes" in err
    assert f'"limit": {SMALL_LIMIT}' in err
    async with AsyncClient(world.url, tenant.member) as client:
        assert await client.list_datafiles() == []


async def test_a_finished_job_reads_back_through_the_sdk(world: World, tmp_path: Path) -> None:
    tenant = await world.tenant("outputs")
    job_id = await _finished_job(world, tenant)
    async with AsyncClient(world.url, tenant.member) as client:
        job = await client.wait_for_training_job(job_id, timeout_s=5)
        metrics = await client.get_training_metrics(job_id)
        log = await client.get_training_log(job_id)
        [snapshot] = await client.list_snapshots(job_id)
        weights = await client.download_snapshot(job_id, to=tmp_path / "w.caffemodel")
        queue = await client.get_queue()
    assert job.state == "succeeded" and job.snapshots == 1
    assert [(p.iteration, p.outputs) for p in metrics.test] == [(50, {"accuracy": 0.9})]
    assert log.splitlines()[-1] == "Optimization Done."
    assert snapshot.iteration == 50 and weights.read_bytes() == b"weights-50" * 1000
    assert queue == []


async def test_a_followed_log_arrives_live_and_ends_with_the_job(world: World) -> None:
    tenant = await world.tenant("follow")
    job_id = await world.submit(tenant)
    await world.assign(tenant.tenant_id, job_id)
    await world.run_to_snapshot(tenant.tenant_id, job_id)
    received: list[str] = []
    three_lines = asyncio.Event()

    async def follow() -> None:
        async with AsyncClient(world.url, tenant.member) as client:
            async for line in client.follow_training_log(job_id):
                received.append(line)
                if len(received) == 3:
                    three_lines.set()

    reader = asyncio.create_task(follow())
    await asyncio.wait_for(three_lines.wait(), 5)
    assert not reader.done()
    await world.succeed(tenant.tenant_id, job_id)
    await asyncio.wait_for(reader, 5)
    assert received == ["I1124 solver.cpp:218] Iteration 0, lr = 0.01", "line two", "line three",
                        "Optimization Done."]


async def test_events_resume_after_the_last_event_seen(world: World) -> None:
    tenant = await world.tenant("events")
    async with AsyncClient(world.url, tenant.member) as client:
        async with aclosing(client.events()) as stream:
            first = [await anext(stream), await anext(stream)]
        async with aclosing(client.events(last_event_id=first[0].id)) as resumed:
            again = await anext(resumed)
    assert [e.type for e in first] == ["UserAdded", "TokenIssued"]
    assert (again.id, again.type) == (first[1].id, "TokenIssued")


async def test_errors_carry_the_servers_problem_details(world: World) -> None:
    tenant = await world.tenant("errors")
    async with AsyncClient(world.url, tenant.member) as client:
        with pytest.raises(NotFound) as missing:
            await client.get_training_job("no-such-job")
        with pytest.raises(Invalid) as invalid:
            await client.submit_training_job("bad id!", "x")
    async with AsyncClient(world.url, "et_wrong_token") as stranger:
        with pytest.raises(Unauthorized):
            await stranger.me()
    assert missing.value.detail == "no training job no-such-job"
    assert invalid.value.status == 422 and [e["field"] for e in invalid.value.errors] == ["solver_id"]


async def test_every_operation_of_the_served_spec_has_an_sdk_method(world: World) -> None:
    async with AsyncClient(world.url) as client:
        spec = await client.openapi()
        health = await client.healthz()
        ready = await client.readyz()
    served = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert served - set(covered_operations(Api)) == set()
    assert health.status == "ok" and ready.ready


async def test_the_blocking_client_runs_the_same_operations(world: World) -> None:
    tenant = await world.tenant("blocking")
    job_id = await _finished_job(world, tenant)

    def use() -> tuple[str, list[str]]:
        with Client(world.url, tenant.member) as client:
            return client.get_training_job(job_id).state, list(client.follow_training_log(job_id))

    state, lines = await asyncio.to_thread(use)
    assert state == "succeeded" and lines[-1] == "Optimization Done."


async def test_the_cli_waits_follows_tabulates_and_downloads_over_http(world: World, tmp_path: Path) -> None:
    tenant = await world.tenant("cli")
    job_id = await _finished_job(world, tenant)
    token = tenant.member

    code, out, _ = await asyncio.to_thread(_cli, jobs.parser, ["wait", job_id, "--timeout", "5"], world, token)
    assert code == 0 and "succeeded" in out
    code, out, _ = await asyncio.to_thread(_cli, jobs.parser, ["logs", job_id, "-f"], world, token)
    assert code == 0 and out.splitlines()[-1] == "Optimization Done."
    code, out, _ = await asyncio.to_thread(_cli, jobs.parser, ["metrics", job_id, "--json"], world, token)
    assert code == 0 and json.loads(out)["test"][0]["outputs"] == {"accuracy": 0.9}
    target = tmp_path / "latest.solverstate"
    code, out, _ = await asyncio.to_thread(
        _cli, snapshots.parser, ["download", job_id, "--kind", "solverstate", "-o", str(target)], world, token)
    assert code == 0 and target.read_bytes() == b"state-50"
    code, out, err = await asyncio.to_thread(_cli, datafiles.parser, ["show", "missing"], world, token)
    assert (code, out) == (3, "") and "404 Not Found: no datafile missing" in err
