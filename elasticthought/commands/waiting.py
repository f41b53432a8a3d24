"""The shared `--wait` / `--timeout` options and what a waited-for end state means as an exit code."""

from __future__ import annotations

import argparse

from elasticthought.commands import exit_codes

GOOD_ENDS = ("ready", "succeeded")


def wait_options(parser: argparse.ArgumentParser, *, flag: bool = True) -> None:
    if flag:
        parser.add_argument("--wait", action="store_true", help="wait until it ends; exit 1 unless it ended well")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this long (exit 7)")
    parser.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="how often to check (default 1)")


def end_code(state: str) -> int:
    """0 for ready/succeeded; 1 for failed, rejected, cancelled."""
    return exit_codes.OK if state in GOOD_ENDS else exit_codes.ENDED_BADLY
