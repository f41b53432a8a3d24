"""`elasticthought login` saves the server and token only after the server accepted the token."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import httpx
import pytest

from elasticthought.commands import login
from tests.unit.client.fakes import TOKEN, URL, FakeApi, problem
from tests.unit.commands.harness import run_command

ME = {"kind": "user", "user_id": "u1", "name": "ann", "tenant_id": "acme", "role": "owner", "token_id": "t1"}


@pytest.fixture
def config_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("ET_URL", raising=False)
    monkeypatch.delenv("ET_TOKEN", raising=False)
    return tmp_path / "elasticthought" / "config.json"


def test_login_checks_the_token_then_saves_url_and_token_privately(config_home: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/me", httpx.Response(200, json=ME))
    ran = run_command(login.parser, [], api)
    assert ran.code == 0 and "ann (owner of acme)" in ran.out
    assert api.sent[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(config_home.read_text()) == {"url": URL, "token": TOKEN}
    assert stat.S_IMODE(config_home.stat().st_mode) == 0o600


def test_a_refused_token_is_not_saved_and_exits_4(config_home: Path) -> None:
    api = FakeApi()
    api.on("GET", "/v1/me", problem(401, "the token is not valid"))
    ran = run_command(login.parser, [], api)
    assert ran.code == 4 and "401" in ran.err and "the token is not valid" in ran.err
    assert not config_home.exists()


def test_the_token_can_come_from_standard_input(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("et_from_stdin\n"))
    api = FakeApi()
    api.on("GET", "/v1/me", httpx.Response(200, json=ME))
    ran = run_command(login.parser, ["--url", URL], api, connect=False)
    assert ran.code == 0
    assert api.sent[0].request.headers["Authorization"] == "Bearer et_from_stdin"
    assert json.loads(config_home.read_text())["token"] == "et_from_stdin"


def test_login_replaces_a_damaged_login_file(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text("{half a file")
    api = FakeApi()
    api.on("GET", "/v1/me", httpx.Response(200, json=ME))
    assert run_command(login.parser, [], api).code == 0
    assert json.loads(config_home.read_text()) == {"url": URL, "token": TOKEN}
