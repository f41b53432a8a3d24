"""A child process that dies with its parent: Linux's parent-death signal, armed by the child itself.

A trainer must not train on after its worker was killed with SIGKILL, so it asks the kernel to
send it a signal when its parent dies (`prctl(PR_SET_PDEATHSIG)`), then checks that the parent did
not die before the request was in place (it would have been re-parented by then).

Arming it from the parent, in a `preexec_fn` between fork and exec, has a cost that grows with the
parent: Python must then really `fork()`, copying the page tables of the whole parent (tens of
milliseconds for an embedded `up` process of a few hundred MB), instead of `vfork()` (a tenth of a
millisecond whatever its size), and it does so in the event loop. So a parent that starts our own
command line (`python -m elasticthought`) passes the request in the environment (`request_env`),
and the command arms itself first thing (`arm_from_environment`); `preexec` is the hook for
commands that cannot. The variable is removed once read, so the child's own children do not
inherit a request naming another parent. Linux only: elsewhere nothing is armed.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, MutableMapping

ENV = "ELASTICTHOUGHT_DIE_WITH_PARENT"
"""`<signal number>:<parent pid>`; not an ET_ setting, only ever set by a parent for its child."""
PR_SET_PDEATHSIG = 1


class BadRequest(ValueError):
    """The environment's request is not `<signal number>:<parent pid>`."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{ENV}={value!r} is not <signal number>:<parent pid>")
        self.value = value


def request_env(signum: signal.Signals, parent: int | None = None) -> dict[str, str]:
    """The environment entry asking a child to die with `parent` (default: this process) by `signum`."""
    return {ENV: f"{int(signum)}:{os.getpid() if parent is None else parent}"}


def arm_from_environment(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Arm the request found in `environ` (and remove it); False when there was none."""
    value = environ.pop(ENV, None)
    if value is None:
        return False
    try:
        number, parent = (int(part) for part in value.split(":"))
        signum = signal.Signals(number)
    except ValueError:
        raise BadRequest(value) from None
    arm(signum, parent)
    return True


def arm(signum: signal.Signals, parent: int) -> None:
    """Get `signum` when `parent` dies; at once when it already has (we are no longer its child)."""
    prctl = _prctl()
    if prctl is None:
        return
    prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def preexec(signum: signal.Signals) -> Callable[[], None]:
    """`arm` as a preexec function for commands that cannot arm themselves (resolved before the fork)."""
    _prctl()
    parent = os.getpid()
    return functools.partial(arm, signum, parent)


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: every `elasticthought` command imports this module, few of them arm

    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl
