"""Percentiles and markdown tables, as every part of the pipeline benchmark prints them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in [0, 1]) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> list[str]:
    """p50, p95 and max of `values` times `scale`, formatted; dashes for an empty sample."""
    if not values:
        return ["-", "-", "-"]
    return [f"{v * scale:.{digits}f}" for v in (statistics.median(values), percentile(values, 0.95), max(values))]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1) -> str:
    """A markdown table; columns from `numeric_from` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = [_row(header), _row(align), *(_row(r) for r in rows)]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
