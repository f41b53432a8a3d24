"""Which events a webhook receives: names and `*` patterns, checked against the known event types."""

from __future__ import annotations

import pytest

from services.api.webhooks.patterns import UnknownEventPattern, check_patterns, deliverable_types, matches


def test_exact_names_and_star_patterns_match_event_types() -> None:
    assert matches(["TrainingJobSucceeded"], "TrainingJobSucceeded")
    assert not matches(["TrainingJobSucceeded"], "TrainingJobFailed")
    assert matches(["Dataset*"], "DatasetBuilt") and matches(["Dataset*"], "DatasetFailed")
    assert not matches(["Dataset*"], "DatafileAccepted")
    assert matches(["TrainingJob*", "Dataset*"], "DatasetBuilt")
    assert matches(["*"], "TrainingLogAppended")


def test_webhook_and_delivery_events_are_never_delivered_even_to_star() -> None:
    for own in ("WebhookRegistered", "WebhookDeliveryAttempted", "WebhookDeliveryScheduled", "WebhookDeliveryFailed"):
        assert not matches(["*"], own)
        assert own not in deliverable_types()
    assert "TrainingJobSucceeded" in deliverable_types()


def test_checked_patterns_keep_their_order_without_duplicates() -> None:
    assert check_patterns(["Dataset*", "TrainingJobSucceeded", "Dataset*"]) == ["Dataset*", "TrainingJobSucceeded"]


@pytest.mark.parametrize(("pattern", "why"), [
    ("NoSuchEvent", "matches no event type"),
    ("Foo*", "matches no event type"),
    ("WebhookRegistered", "matches no event type"),
    ("Dataset.*", "is not an event type name"),
    ("Dataset?", "is not an event type name"),
    ("", "is not an event type name"),
    ("[A-Z]*", "is not an event type name"),
])
def test_unknown_or_malformed_patterns_are_refused_by_name(pattern: str, why: str) -> None:
    with pytest.raises(UnknownEventPattern) as raised:
        check_patterns(["TrainingJobSucceeded", pattern])
    assert raised.value.pattern == pattern
    assert why in str(raised.value)
