"""Pure helpers of the pipeline benchmark: glog timestamps, job splits, percentiles."""

from __future__ import annotations

from datetime import datetime

import pytest

from bench.pipeline.drain import split_jobs
from bench.pipeline.glog import written_at
from bench.pipeline.stats import percentile, spread


def test_a_classic_glog_prefix_is_read_in_local_time_with_the_given_year() -> None:
    found = written_at("I1124 08:30:01.123456 42 solver.cpp:231] Iteration 0, loss = 2.3", 2026)
    assert found == datetime(2026, 11, 24, 8, 30, 1, 123456).timestamp()


def test_a_glog_prefix_with_its_own_year_keeps_it() -> None:
    found = written_at("W20251231 23:59:59.000001 42 caffe.cpp:197] Use CPU.", 2026)
    assert found == datetime(2025, 12, 31, 23, 59, 59, 1).timestamp()


@pytest.mark.parametrize("line", ["test_iter: 1", "", "I1124 08:30:01 no microseconds", "X1124 08:30:01.123456 x",
                                  "I1332 08:30:01.123456 42 bad month"])
def test_lines_without_a_valid_glog_prefix_have_no_time(line: str) -> None:
    assert written_at(line, 2026) is None


def test_even_split_spreads_the_remainder_over_the_first_tenants() -> None:
    assert split_jobs(1000, 10, "even") == [100] * 10
    assert split_jobs(23, 4, "even") == [6, 6, 6, 5]


def test_skewed_split_gives_one_tenant_half_and_the_rest_one_to_nine() -> None:
    found = split_jobs(1000, 10, "skewed")
    assert sum(found) == 1000
    assert found[0] >= 500 and found[1:] == sorted(found[1:]) and found[1] < found[-1]
    assert min(split_jobs(100, 10, "skewed")) == 1


def test_a_split_that_cannot_give_every_tenant_a_job_is_refused() -> None:
    with pytest.raises(ValueError, match="9 jobs"):
        split_jobs(9, 10, "even")
    with pytest.raises(ValueError, match="unknown shape"):
        split_jobs(100, 10, "lopsided")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0 and percentile(values, 0.95) == 95.0
    assert spread(values, scale=1000, digits=0) == ["50500", "95000", "100000"]
    assert spread([]) == ["-", "-", "-"]
