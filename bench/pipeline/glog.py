"""When a trainer wrote a log line, from the line's own glog prefix.

glog writes the local wall-clock time with microseconds, as `I1124 08:30:01.123456 ...` (the
classic prefix, which the torch engine copies) or `I20261124 08:30:01.123456 ...` (glog >= 0.7,
with the year). Without a year the benchmark's own applies: it runs on the trainer's machine.
"""

from __future__ import annotations

import re
from datetime import datetime

_PREFIX = re.compile(r"^[IWEF](\d{4})?(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}) ")


def written_at(line: str, year: int) -> float | None:
    """The line's time as a Unix timestamp (local time), or None for a line without a glog prefix."""
    found = _PREFIX.match(line)
    if found is None:
        return None
    written_year = int(found.group(1)) if found.group(1) else year
    month, day, hour, minute, second, micro = (int(part) for part in found.groups()[1:])
    try:
        return datetime(written_year, month, day, hour, minute, second, micro).timestamp()
    except ValueError:  # 29 February of another year, or a damaged line
        return None
