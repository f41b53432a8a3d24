"""`--json` prints the API's answers for scripts; the default is a table for people, with notes on stderr."""

from __future__ import annotations

import json

import httpx

from elasticthought.commands import datafiles
from tests.unit.client.fakes import NOW, FakeApi
from tests.unit.commands.harness import run_command

DATAFILE = {"id": "df1", "name": "digits.tar.gz", "source": "upload", "state": "ready", "size": 2048,
            "sha256": "ab" * 32, "format": "tar.gz", "classes": {"0": 5, "1": 7}, "image_count": 12, "error": None,
            "error_member": None, "created_at": NOW}


def test_json_output_is_the_answer_as_the_api_sent_it() -> None:
    api = FakeApi()
    api.on("GET", "/v1/datafiles", httpx.Response(200, json={"items": [DATAFILE]}))
    ran = run_command(datafiles.parser, ["list", "--json"], api)
    assert ran.code == 0 and ran.err == ""
    [found] = json.loads(ran.out)
    assert found == {**DATAFILE, "created_at": "2026-01-02T03:04:05Z"}


def test_human_output_is_an_aligned_table() -> None:
    api = FakeApi()
    api.on("GET", "/v1/datafiles", httpx.Response(200, json={"items": [DATAFILE]}))
    ran = run_command(datafiles.parser, ["list"], api)
    header, row = ran.out.splitlines()
    assert header.split() == ["ID", "NAME", "STATE", "SIZE", "CLASSES", "IMAGES", "CREATED"]
    assert row.split()[:7] == ["df1", "digits.tar.gz", "ready", "2.0", "KB", "2", "12"]
    assert header.index("STATE") == row.index("ready")


def test_deleting_says_so_on_stderr_and_prints_nothing_for_scripts() -> None:
    api = FakeApi()
    api.on("DELETE", "/v1/datafiles/df1", httpx.Response(204))
    ran = run_command(datafiles.parser, ["delete", "df1"], api)
    assert (ran.code, ran.out, ran.err) == (0, "", "deleted datafile df1\n")
