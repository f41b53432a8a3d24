"""The drain's fairness figures: max-min fair shares and the lag of each tenant against them."""

from __future__ import annotations

import pytest

from bench.pipeline.fairness import FairnessInputError, fair_shares, fairness


def test_fair_shares_split_evenly_when_every_tenant_has_enough_work() -> None:
    assert fair_shares({"a": 100, "b": 100, "c": 100}, 30) == {"a": 10.0, "b": 10.0, "c": 10.0}


def test_a_tenant_with_one_job_is_owed_it_within_the_first_two_assignments() -> None:
    assert fair_shares({"big": 200, "one": 1}, 2) == {"big": 1.0, "one": 1.0}
    assert fair_shares({"big": 200, "one": 1}, 101) == {"big": 100.0, "one": 1.0}


def test_shares_of_exhausted_tenants_flow_to_the_others() -> None:
    shares = fair_shares({"a": 2, "b": 5, "c": 50}, 20)
    assert shares == {"a": 2.0, "b": 5.0, "c": 13.0}
    assert sum(shares.values()) == pytest.approx(20)


def test_round_robin_lags_less_than_one_job_and_under_ten_percent_once_settled() -> None:
    order = [t for _ in range(30) for t in "abcdefghij"]
    found = fairness(order)
    assert found.assignments == 300 and found.tenants == 10
    assert found.max_lag.value == pytest.approx(0.9)  # k=1: one tenant has a job, each is owed 0.1
    assert found.max_settled_pct is not None
    assert found.max_settled_pct.value < 10.0


def test_serving_one_tenant_first_shows_as_a_large_lag_and_deviation() -> None:
    order = ["a"] * 50 + ["b"] * 50
    found = fairness(order)
    assert found.max_lag.value == pytest.approx(25.0)  # after 50: a has 50, was owed 25
    assert (found.max_lag.k, found.max_lag.tenant) == (50, "a")
    assert found.max_settled_pct is not None and found.max_settled_pct.value == pytest.approx(100.0)


def test_serving_a_small_tenant_late_is_caught_by_the_lag() -> None:
    order = ["big"] * 10 + ["one"] + ["big"] * 10
    found = fairness(order)
    assert found.max_lag.value == pytest.approx(1.0)
    assert found.max_lag.tenant in {"big", "one"} and found.max_lag.k >= 2


def test_too_few_shares_to_settle_gives_no_percentage() -> None:
    assert fairness(["a", "b", "a", "b"]).max_settled_pct is None


def test_more_assignments_than_a_tenant_needed_are_refused() -> None:
    with pytest.raises(FairnessInputError) as refused:
        fairness(["a", "a", "b"], {"a": 1, "b": 1})
    assert (refused.value.tenant, refused.value.assigned, refused.value.demand) == ("a", 2, 1)
