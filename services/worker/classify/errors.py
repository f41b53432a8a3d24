"""The errors of loading a classifier, without importing torch (the API maps them to answers)."""

from __future__ import annotations


class ClassifierLoadError(Exception):
    """A classifier whose files are gone or do not fit its deploy net."""

    def __init__(self, classifier_id: str, reason: str) -> None:
        super().__init__(f"classifier {classifier_id}: {reason}")
        self.classifier_id = classifier_id
        self.reason = reason

    def __repr__(self) -> str:
        return f"ClassifierLoadError(classifier_id={self.classifier_id!r}, reason={self.reason!r})"
