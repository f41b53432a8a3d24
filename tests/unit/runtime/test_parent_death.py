"""The parent-death request a worker hands its trainer in the environment: format and parsing."""

from __future__ import annotations

import signal

import pytest

from shared import parent_death
from shared.parent_death import ENV, BadRequest, arm_from_environment, request_env


@pytest.fixture
def armed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[signal.Signals, int]]:
    """What `arm` was asked for, instead of arming the test process itself."""
    calls: list[tuple[signal.Signals, int]] = []
    monkeypatch.setattr(parent_death, "arm", lambda signum, parent: calls.append((signum, parent)))
    return calls


def test_the_request_names_the_signal_number_and_the_parent() -> None:
    assert request_env(signal.SIGKILL, parent=4242) == {ENV: "9:4242"}


def test_a_request_is_armed_and_removed_so_grandchildren_do_not_inherit_it(
    armed: list[tuple[signal.Signals, int]],
) -> None:
    environ = {ENV: "15:4242", "PATH": "/bin"}
    assert arm_from_environment(environ) is True
    assert armed == [(signal.SIGTERM, 4242)]
    assert environ == {"PATH": "/bin"}


def test_without_a_request_nothing_is_armed(armed: list[tuple[signal.Signals, int]]) -> None:
    environ = {"PATH": "/bin"}
    assert arm_from_environment(environ) is False
    assert armed == [] and environ == {"PATH": "/bin"}


@pytest.mark.parametrize("value", ["", "15", "15:", "term:4242", "15:4242:1", "99999:4242"])
def test_a_malformed_request_is_refused_naming_it(value: str, armed: list[tuple[signal.Signals, int]]) -> None:
    with pytest.raises(BadRequest) as refused:
        arm_from_environment({ENV: value})
    assert refused.value.value == value and ENV in str(refused.value)
    assert armed == []
