"""The classifier aggregate: created once, deleted once."""

from __future__ import annotations

import pytest

from shared.domain import classifier
from shared.domain.classifier import Classifier, ClassifierRuleViolation
from shared.events import Event, registry
from shared.events.classify import ClassifierCreated, ClassifierDeleted
from shared.events.data import ImageSpec

CREATED = ClassifierCreated(
    classifier_id="c1", training_job_id="j1", iteration=50, dataset_id="d1", labels=["cat", "dog"],
    image=ImageSpec(width=8, height=8), caffemodel_path="classifiers/c1/weights.caffemodel",
    deploy_prototxt="name: 'x'", created_by="u")


def fold(events: list[Event]) -> Classifier | None:
    state = None
    for version, event in enumerate(events, start=1):
        envelope = registry.envelope(event, tenant_id="t", stream_id="classifier-c1", stream_version=version)
        state = classifier.evolve(state, envelope, event)
    return state


def test_a_classifier_is_created_once_and_deleted_once() -> None:
    assert classifier.decide_create(None, CREATED) == [CREATED]
    created = fold([CREATED])
    assert created is not None and created.classifier_id == "c1" and not created.deleted and created.version == 1
    with pytest.raises(ClassifierRuleViolation, match="taken"):
        classifier.decide_create(created, CREATED)
    [deleted_event] = classifier.decide_delete(created, classifier_id="c1", deleted_by="u")
    assert isinstance(deleted_event, ClassifierDeleted)
    deleted = fold([CREATED, deleted_event])
    assert deleted is not None and deleted.deleted and deleted.version == 2
    for state in (None, deleted):
        with pytest.raises(ClassifierRuleViolation) as refused:
            classifier.decide_delete(state, classifier_id="c1", deleted_by="u")
        assert refused.value.deleted is (state is not None)
    assert fold([deleted_event]) is None  # a stream without its creation folds to nothing
