"""Exit codes say what happened, and an error's problem detail reaches stderr."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from elasticthought.client.errors import ConnectionFailed, JobEnded, UnexpectedAnswer, WaitTimeout, error_for
from elasticthought.commands import datafiles, exit_codes, jobs, solvers
from elasticthought.commands.exit_codes import code_for
from tests.unit.client.fakes import FakeApi, job, problem
from tests.unit.commands.harness import run_command


@pytest.mark.parametrize(("status", "code"), [
    (404, 3), (401, 4), (403, 4), (400, 5), (409, 5), (413, 5), (415, 5), (422, 5), (429, 5), (500, 6), (503, 6)])
def test_each_error_status_has_its_exit_code(status: int, code: int) -> None:
    assert code_for(error_for(status, None)) == code


def test_failures_without_a_status_have_their_exit_codes() -> None:
    assert code_for(ConnectionFailed("http://x", "refused")) == exit_codes.UNAVAILABLE == 6
    assert code_for(UnexpectedAnswer("GET /x", "not JSON")) == 6
    assert code_for(WaitTimeout("training job", "j1", "running", 5)) == exit_codes.WAIT_TIMEOUT == 7
    assert code_for(JobEnded("classify job", "c1", "failed", None)) == exit_codes.ENDED_BADLY == 1


def test_not_found_prints_the_problem_detail_on_stderr_and_exits_3() -> None:
    api = FakeApi()
    api.on("GET", "/v1/datafiles/nope", problem(404, "no datafile nope"))
    ran = run_command(datafiles.parser, ["show", "nope"], api)
    assert ran.code == 3 and ran.out == ""
    assert ran.err == "elasticthought: 404 Problem: no datafile nope\n"


def test_invalid_input_prints_each_field_and_where_then_exits_5(tmp_path: Path) -> None:
    (tmp_path / "s.prototxt").write_text("base_lr: x")
    (tmp_path / "n.prototxt").write_text("layer {}")
    api = FakeApi()
    api.on("POST", "/v1/solvers", problem(422, "solver_prototxt:1:10: Couldn't parse float", field="solver_prototxt",
                                          line=1, column=10, errors=[{"field": "name", "message": "too long"}]))
    ran = run_command(solvers.parser, ["create", "--solver", str(tmp_path / "s.prototxt"), "--net",
                                       str(tmp_path / "n.prototxt")], api)
    assert ran.code == 5
    lines = ran.err.splitlines()
    assert lines[0] == "elasticthought: 422 Problem: solver_prototxt:1:10: Couldn't parse float"
    assert lines[1] == "  name: too long"
    assert json.loads(lines[2]) == {"field": "solver_prototxt", "line": 1, "column": 10}


def test_an_unreachable_server_exits_6() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    api = FakeApi()
    api.on("GET", "/v1/training-jobs", refuse)
    ran = run_command(jobs.parser, ["list"], api)
    assert ran.code == 6 and "cannot reach http://et.test: connection refused" in ran.err


def test_usage_errors_exit_2_before_any_request(tmp_path: Path) -> None:
    api = FakeApi()
    assert run_command(jobs.parser, ["submit", "--solver", "s1"], api).code == 2  # --dataset missing
    missing = run_command(datafiles.parser, ["upload", str(tmp_path / "absent.tar.gz")], api)
    assert missing.code == 2 and "no such file" in missing.err
    assert api.sent == []


def test_without_a_token_anywhere_commands_exit_4(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("ET_TOKEN", raising=False)
    api = FakeApi()
    ran = run_command(jobs.parser, ["list", "--url", "http://et.test"], api, connect=False)
    assert ran.code == 4 and "elasticthought login" in ran.err and api.sent == []


@pytest.mark.parametrize(("state", "code"), [("succeeded", 0), ("failed", 1), ("cancelled", 1)])
def test_jobs_wait_exits_by_how_the_job_ended(state: str, code: int) -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json=job(state="running")),
           httpx.Response(200, json=job(state=state)))
    ran = run_command(jobs.parser, ["wait", "j1", "--poll", "0.1"], api)
    assert ran.code == code and api.sleeps == [0.1]
    assert f"state:          {state}" in ran.out


def test_jobs_wait_past_its_timeout_exits_7() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json=job(state="running")))
    ran = run_command(jobs.parser, ["wait", "j1", "--timeout", "0"], api)
    assert ran.code == 7 and "still running" in ran.err


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(jobs.parser, ["wait", "--help"], FakeApi(), connect=False).code == 0
    shown = capsys.readouterr().out
    assert "exit codes:" in shown and "7  --timeout passed while waiting" in shown
