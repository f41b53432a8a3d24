"""When a trainer wrote a log line, from the line's own glog prefix.

glog writes the local wall-clock time with microseconds, as `I1124 08:30:01.123456 ...` (the
classic prefix, which the torch engine copies) or `I20261124 08:30:01.123456 ...` (glog >= 0.7,
with the year). Without a year the benchmark's own applies: it runs on the trainer's machine.
The prefix is read by the project's one Caffe log parser (`shared.caffe.log.split_glog`).
"""

from __future__ import annotations

from datetime import datetime

from shared.caffe.log import split_glog


def written_at(line: str, year: int) -> float | None:
    """The line's time as a Unix timestamp (local time), or None for a line without a glog prefix."""
    glog, _ = split_glog(line)
    if glog is None:
        return None
    written_year = int(glog.date[:-4]) if len(glog.date) == 8 else year
    month, day = int(glog.date[-4:-2]), int(glog.date[-2:])
    clock, _, fraction = glog.time.partition(".")
    hour, minute, second = (int(part) for part in clock.split(":"))
    try:
        return datetime(written_year, month, day, hour, minute, second, int(fraction[:6].ljust(6, "0"))).timestamp()
    except ValueError:  # 29 February of another year, or a damaged line
        return None
