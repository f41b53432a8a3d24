"""What every client command shares: its options, its client, and turning what went wrong into an exit code.

A command group builds an argparse parser whose actions each carry a handler; `run` parses,
calls the handler with a `Context` (arguments, a lazily made `Client`, stdout and stderr), and
maps exceptions to the exit codes of `exit_codes` with the server's problem detail on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from elasticthought.client import Client
from elasticthought.client.errors import ApiError, ElasticThoughtError
from elasticthought.commands import config, exit_codes
from elasticthought.commands.output import print_json

PROG = "elasticthought"


class UsageError(Exception):
    """Arguments that parse but do not make sense (a missing file, two exclusive choices)."""


@dataclass
class Context:
    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    make_client: Callable[[str, str | None], Client] = Client
    _client: Client | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def client(self) -> Client:
        """The SDK client for the configured server; `NotLoggedIn` when no token is configured anywhere."""
        return self.connect(require_token=True)

    def connect(self, *, require_token: bool) -> Client:
        if self._client is None:
            url, token, path = config.resolve(getattr(self.args, "url", None), getattr(self.args, "token", None))
            if require_token and not token:
                raise config.NotLoggedIn(path)
            self._client = self.make_client(url, token)
        return self._client

    def show(self, value: Any, human: Callable[[], str]) -> None:
        """`value` as JSON with --json, else the human text."""
        if self.json:
            print_json(value, self.out)
        else:
            text = human()
            if text:
                self.out.write(text + "\n")

    def note(self, text: str) -> None:
        """A message for people on stderr, kept off stdout so scripts read only results."""
        if not self.json:
            self.err.write(text + "\n")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


Handler = Callable[[Context], int]


def group_parser(name: str, description: str) -> tuple[argparse.ArgumentParser, Any]:
    """The parser of `elasticthought NAME` and its actions' subparsers."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=description, epilog=exit_codes.HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser, parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def single_parser(name: str, description: str, handler: Handler) -> argparse.ArgumentParser:
    """The parser of a command without actions (`elasticthought login`, `queue`, ...)."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=description, epilog=exit_codes.HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    connection_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="server URL (default: ET_URL, then the login file, then http://127.0.0.1:8080)")
    parser.add_argument("--token", help="API token (default: ET_TOKEN, then the login file)")
    parser.add_argument("--json", action="store_true", help="print results as JSON (for scripts)")


def action(actions: Any, name: str, help_: str, handler: Handler) -> argparse.ArgumentParser:
    """One action of a group, with the connection options and its handler."""
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help_, description=help_, epilog=exit_codes.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    connection_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str], *, out: TextIO | None = None,
        err: TextIO | None = None, make_client: Callable[[str, str | None], Client] = Client) -> int:
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else exit_codes.USAGE
    context = Context(args, out or sys.stdout, err or sys.stderr, make_client)
    try:
        handler: Handler = args.handler
        return handler(context)
    except ElasticThoughtError as e:
        report(context, e)
        return exit_codes.code_for(e)
    except config.NotLoggedIn as e:
        context.err.write(f"{PROG}: {e}\n")
        return exit_codes.AUTH
    except (config.ConfigError, UsageError) as e:
        context.err.write(f"{PROG}: {e}\n")
        return exit_codes.USAGE
    except KeyboardInterrupt:
        context.err.write(f"\n{PROG}: interrupted\n")
        return exit_codes.INTERRUPTED
    finally:
        context.close()


def report(context: Context, error: ElasticThoughtError) -> None:
    """The error on stderr: the problem's status, title and detail, then each invalid field."""
    context.err.write(f"{PROG}: {error}\n")
    if isinstance(error, ApiError):
        for line in error.field_errors():
            context.err.write(f"  {line}\n")
        shown = {k: v for k, v in error.extra.items() if k in ("line", "column", "layer", "field", "state", "limit")}
        if shown:
            context.err.write(f"  {json.dumps(shown)}\n")
