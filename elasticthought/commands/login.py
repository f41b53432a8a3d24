"""`elasticthought login`: check a token against the server (GET /v1/me) and remember both in the login file.

The token comes from --token, ET_TOKEN, or a prompt that does not echo it (a line on standard
input when that is not a terminal, so scripts can pipe it). Nothing is written unless the
server accepted the token.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from elasticthought.commands import config, exit_codes
from elasticthought.commands.output import fields
from elasticthought.commands.runner import Context, UsageError, run, single_parser


def parser() -> argparse.ArgumentParser:
    return single_parser("login", __doc__.splitlines()[0] if __doc__ else "", login)


def login(context: Context) -> int:
    args = context.args
    path = config.config_path()
    try:
        saved = config.load(path)
    except config.ConfigError:  # a damaged file is what a new login replaces
        saved = config.Saved()
    url = args.url or os.environ.get("ET_URL") or saved.url or config.DEFAULT_URL
    token = args.token or os.environ.get("ET_TOKEN") or _ask_token()
    context.args.url, context.args.token = url, token
    me = context.client.me()
    config.save(path, config.Saved(url=context.client.url, token=token))
    who = f"{me.name} ({me.role or me.kind}{f' of {me.tenant_id}' if me.tenant_id else ''})"
    context.show(me, lambda: fields([("logged in to", context.client.url), ("as", who), ("saved in", path)]))
    return exit_codes.OK


def _ask_token() -> str:
    if sys.stdin.isatty():
        token = getpass.getpass("API token: ")
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise UsageError("no token given (use --token, ET_TOKEN, or type it at the prompt)")
    return token


def main(argv: Sequence[str]) -> int:
    return run(parser(), argv)
