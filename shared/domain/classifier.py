"""The classifier aggregate (stream `classifier-<id>`): a trained model made usable, until deleted.

Pure functions, no I/O. A classifier is immutable once created (another snapshot is another
classifier); deleting it is final.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.events import Envelope, Event
from shared.events.classify import ClassifierCreated, ClassifierDeleted


class ClassifierRuleViolation(Exception):
    def __init__(self, classifier_id: str, action: str, *, deleted: bool) -> None:
        self.classifier_id = classifier_id
        self.action = action
        self.deleted = deleted
        shown = "deleted" if deleted else "missing" if action == "delete" else "taken"
        super().__init__(f"classifier {classifier_id} is {shown}: cannot {action}")


@dataclass(frozen=True)
class Classifier:
    created: ClassifierCreated
    created_at: datetime
    version: int
    deleted: bool = False

    @property
    def classifier_id(self) -> str:
        return self.created.classifier_id


def classifier_stream(classifier_id: str) -> str:
    return f"classifier-{classifier_id}"


def evolve(classifier: Classifier | None, envelope: Envelope, event: Event) -> Classifier | None:
    if isinstance(event, ClassifierCreated):
        return Classifier(event, envelope.occurred_at, envelope.stream_version)
    if classifier is None:
        return None
    if isinstance(event, ClassifierDeleted):
        return replace(classifier, deleted=True, version=envelope.stream_version)
    return replace(classifier, version=envelope.stream_version)


def decide_create(classifier: Classifier | None, event: ClassifierCreated) -> list[Event]:
    if classifier is not None:
        raise ClassifierRuleViolation(classifier.classifier_id, "create it again", deleted=classifier.deleted)
    return [event]


def decide_delete(classifier: Classifier | None, *, classifier_id: str, deleted_by: str) -> list[Event]:
    if classifier is None or classifier.deleted:
        raise ClassifierRuleViolation(classifier_id, "delete", deleted=classifier is not None)
    return [ClassifierDeleted(deleted_by=deleted_by)]
