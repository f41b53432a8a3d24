"""Run a client command in-process against the scripted API of tests/unit/client/fakes.py."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from elasticthought.client import Client
from elasticthought.commands.runner import run
from tests.unit.client.fakes import TOKEN, URL, FakeApi


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def run_command(parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str], api: FakeApi, *,
                connect: bool = True) -> Ran:
    out, err = io.StringIO(), io.StringIO()

    def make_client(url: str, token: str | None) -> Client:
        return Client(url, token, transport=httpx.MockTransport(api.handle), sleep=api.sleeps.append)

    args = [*argv, "--url", URL, "--token", TOKEN] if connect else list(argv)
    code = run(parser(), args, out=out, err=err, make_client=make_client)
    return Ran(code, out.getvalue(), err.getvalue())
