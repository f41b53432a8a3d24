"""The classifiers of one tenant, for lists and lookups (the deploy prototxt is not kept here).

Each record is the `ClassifierCreated` event without its deploy prototxt (up to 100 kB; read from
the classifier's stream when a model is loaded or downloaded). Deleted classifiers are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.api.readmodel.projection import AggregateIndex
from shared.domain import classifier
from shared.events import Envelope, Event
from shared.events.classify import ClassifierCreated, ClassifierDeleted


@dataclass(frozen=True)
class ClassifierRecord:
    state: classifier.Classifier  # its `created.deploy_prototxt` is empty here

    @property
    def created(self) -> ClassifierCreated:
        return self.state.created


class Classifiers(AggregateIndex[ClassifierRecord]):
    types = frozenset({ClassifierCreated.type_name, ClassifierDeleted.type_name})
    stream_kind = "classifier"

    def fold(self, state: ClassifierRecord | None, envelope: Envelope, event: Event) -> ClassifierRecord | None:
        folded = classifier.evolve(state.state if state else None, envelope, event)
        if folded is None:
            return None
        light = folded.created.model_copy(update={"deploy_prototxt": ""})
        return ClassifierRecord(replace(folded, created=light))

    def is_gone(self, state: ClassifierRecord) -> bool:
        return state.state.deleted
