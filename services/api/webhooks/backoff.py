"""The retry schedule of webhook deliveries: exponential-ish steps with jitter, for at least a window.

With the default base of 10 s the delays after each failed attempt are about 10 s, 30 s, 1 min,
2 min, 5 min, 10 min, 20 min, 30 min, then every 30 min, and a delivery fails once an attempt fails
after the window (360 bases: one hour) has passed since its round began. Everything scales with the
base, so tests shrink the whole schedule with one setting. Jitter (+-20 % by default) spreads the
retries of deliveries that failed together (a receiver that was down) so they do not all return at
the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

STEPS = (1, 3, 6, 12, 30, 60, 120, 180)  # delay after the n-th failed attempt, in bases; the last repeats
WINDOW = 360  # bases: how long a round of retries lasts at least


@dataclass(frozen=True)
class RetrySchedule:
    base_s: float = 10.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"base_s must be positive and jitter in [0, 1): {self.base_s}, {self.jitter}")

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=WINDOW * self.base_s)

    def nominal(self, failed_attempts: int) -> timedelta:
        """The delay after the `failed_attempts`-th failure of a round, before jitter."""
        step = STEPS[min(max(failed_attempts, 1), len(STEPS)) - 1]
        return timedelta(seconds=step * self.base_s)

    def delay(self, failed_attempts: int) -> timedelta:
        scale = 1.0 - self.jitter + 2.0 * self.jitter * self.random()
        return self.nominal(failed_attempts) * scale
