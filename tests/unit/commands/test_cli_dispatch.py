"""`elasticthought --help` lists every command, and every client command resolves and documents its exit codes."""

from __future__ import annotations

import importlib

import pytest

from elasticthought import cli

CLIENT_COMMANDS = [name for name, (module, _, _) in cli.SUBCOMMANDS.items()
                   if module.startswith("elasticthought.commands.")]


def test_help_lists_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert f"\n  {name} " in shown, name
    assert "4 auth" in shown and "7 wait timed out" in shown


def test_the_brief_s_client_commands_are_all_there() -> None:
    assert {"login", "datafiles", "datasets", "solvers", "jobs", "snapshots", "classify", "classifiers", "webhooks",
            "tenants", "users"} <= set(CLIENT_COMMANDS)


@pytest.mark.parametrize("name", CLIENT_COMMANDS)
def test_each_client_command_answers_help_with_its_exit_codes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module_name, function_name, _ = cli.SUBCOMMANDS[name]
    assert callable(getattr(importlib.import_module(module_name), function_name))
    assert cli.main([name, "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: elasticthought {name}") and "exit codes:" in shown


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["jobs", "frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
