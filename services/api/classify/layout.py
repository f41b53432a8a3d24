"""Where a classifier's own files lie in the blob store (inside `tenants/<tenant>/`).

- `classifiers/<id>/weights.caffemodel`: a copy of the snapshot's weights (snapshot retention may
  prune the job's snapshots later; the classifier must not lose its model then);
- `classifiers/<id>/mean.binaryproto`: a copy of the dataset's mean image, when the net subtracts it.

Deleting a classifier deletes its prefix, so nothing of it may live elsewhere.
"""

from __future__ import annotations


def classifier_prefix(classifier_id: str) -> str:
    return f"classifiers/{classifier_id}/"


def weights_path(classifier_id: str) -> str:
    return f"classifiers/{classifier_id}/weights.caffemodel"


def mean_path(classifier_id: str) -> str:
    return f"classifiers/{classifier_id}/mean.binaryproto"
