"""Human output (aligned tables, key/value blocks, sizes, times) and JSON output for scripts.

Numbers align right and text left, so columns of iterations or sizes read at a glance; a missing
value prints as `-`. `--json` prints the models as the API sent them, one JSON document per run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from pydantic import BaseModel

MISSING = "-"


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Any], object]


def cell(value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return MISSING if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or MISSING
    return str(value)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(rows: Sequence[Any], columns: Sequence[Column]) -> str:
    """Rows under a header, each column as wide as its widest cell, numbers right-aligned."""
    raw = [[column.value(row) for column in columns] for row in rows]
    cells = [[cell(v) for v in values] for values in raw]
    widths = [max([len(c.title), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    right = [bool(raw) and all(_numeric(line[i]) or line[i] is None for line in raw) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line([c.title.upper() for c in columns]), *(line(values) for values in cells)])


def fields(pairs: Iterable[tuple[str, object]]) -> str:
    """`name: value` lines with the values aligned."""
    pairs = list(pairs)
    width = max((len(name) for name, _ in pairs), default=0)
    return "\n".join(f"{(name + ':').ljust(width + 1)} {cell(value)}" for name, value in pairs)


def size(n: int | None) -> str:
    if n is None:
        return MISSING
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(jsonable(value), indent=2) + "\n")
