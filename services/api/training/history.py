"""A job's history read from its own stream: log lines, parsed outputs by iteration, snapshots.

These grow with every iteration, so the read model does not hold them (it keeps counts and the
latest values); each request folds the one stream it needs. The folds are pure and incremental
(`LogLines.take` skips what it already emitted), so `?follow=true` can feed them new events as
they arrive.

Workers only append events of the live attempt, so every stored event counts. Two things still
repeat and are folded away: a batch of log lines sent twice (line numbers say which are new), and
the iterations an attempt that resumed from a snapshot runs again (the later attempt's values win).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.api.schemas.jobs import EvaluationPoint, LrPoint, Snapshot, TrainPoint
from shared.events import Envelope, Event
from shared.events.retention import SnapshotsPruned
from shared.events.training import SnapshotSaved, TrainingLogAppended, TrainingProgressed

SNAPSHOT_KINDS = ("caffemodel", "solverstate")


@dataclass
class LogLines:
    """Lines in order, each (attempt, line number) once."""

    seen: dict[int, int] = field(default_factory=dict)  # attempt -> last line number emitted

    def take(self, event: Event) -> list[str]:
        if not isinstance(event, TrainingLogAppended):
            return []
        last = self.seen.get(event.attempt, 0)
        fresh = [line for n, line in enumerate(event.lines, start=event.first_line) if n > last]
        if fresh:
            self.seen[event.attempt] = event.first_line + len(event.lines) - 1
        return fresh


@dataclass
class Outputs:
    train: dict[int, TrainPoint] = field(default_factory=dict)
    test: dict[int, EvaluationPoint] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        if not isinstance(event, TrainingProgressed):
            return
        if event.phase == "test":
            self.test[event.iteration] = EvaluationPoint(iteration=event.iteration, outputs=dict(event.outputs),
                                                         loss=event.loss)
        else:
            self.train[event.iteration] = TrainPoint(iteration=event.iteration, outputs=dict(event.outputs),
                                                     loss=event.loss, lr=event.lr)

    def train_points(self) -> list[TrainPoint]:
        return [self.train[i] for i in sorted(self.train)]

    def test_points(self) -> list[EvaluationPoint]:
        return [self.test[i] for i in sorted(self.test)]

    def lr_points(self) -> list[LrPoint]:
        return [LrPoint(iteration=p.iteration, lr=p.lr) for p in self.train_points() if p.lr is not None]


def outputs_of(events: Iterable[Event]) -> Outputs:
    outputs = Outputs()
    for event in events:
        outputs.apply(event)
    return outputs


def snapshots_of(job_id: str, stream: Iterable[tuple[Envelope, Event]]) -> list[Snapshot]:
    """One per iteration (a re-run after a resume replaces the earlier one), in iteration order.

    Snapshots retention pruned (`SnapshotsPruned`: their files are deleted) are not listed.
    """
    found: dict[int, Snapshot] = {}
    for envelope, event in stream:
        if isinstance(event, SnapshotSaved):
            iteration = event.snapshot.iteration
            base = f"/v1/training-jobs/{job_id}/snapshots/{iteration}"
            found[iteration] = Snapshot(iteration=iteration, attempt=event.attempt, saved_at=envelope.occurred_at,
                                        caffemodel=f"{base}/caffemodel", solverstate=f"{base}/solverstate")
        elif isinstance(event, SnapshotsPruned):
            for iteration in event.iterations:
                found.pop(iteration, None)
    return [found[i] for i in sorted(found)]


def snapshot_blob(stream: Iterable[Event], iteration: int, kind: str) -> str | None:
    """The blob path of `kind` at `iteration`, from the latest SnapshotSaved for that iteration; None once pruned."""
    path: str | None = None
    for event in stream:
        if isinstance(event, SnapshotSaved) and event.snapshot.iteration == iteration:
            ref = event.snapshot
            path = ref.caffemodel_path if kind == "caffemodel" else ref.solverstate_path
        elif isinstance(event, SnapshotsPruned) and iteration in event.iterations:
            path = None
    return path


def download_name(prefix: str, iteration: int, kind: str) -> str:
    """Caffe's own naming, `<prefix>_iter_<N>.<kind>`, so tools that parse it keep working."""
    return f"{prefix}_iter_{iteration}.{kind}"
