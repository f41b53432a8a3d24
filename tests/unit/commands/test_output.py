"""Human output: aligned tables, key/value blocks, sizes; the metrics table; a progress bar only on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from elasticthought.client.models.jobs import TrainingMetrics
from elasticthought.commands.jobs import metrics_rows
from elasticthought.commands.output import Column, fields, size, table
from elasticthought.commands.progress import ProgressBar, progress_for


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_aligns_text_left_and_numbers_right_and_shows_missing_values_as_a_dash() -> None:
    rows = [{"id": "a", "n": 5, "x": None}, {"id": "longer-id", "n": 1234, "x": 0.5}]
    text = table(rows, [Column("id", lambda r: r["id"]), Column("n", lambda r: r["n"]),
                        Column("x", lambda r: r["x"])])
    assert text.splitlines() == [
        "ID            N    X",
        "a             5    -",
        "longer-id  1234  0.5",
    ]


def test_an_empty_table_is_its_header() -> None:
    assert table([], [Column("id", lambda r: r), Column("state", lambda r: r)]) == "ID  STATE"


def test_fields_align_values_and_format_them() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    text = fields([("id", "j1"), ("cancel requested", False), ("gpus", ["0", "1"]), ("ended", None),
                   ("at", when)])
    lines = text.splitlines()
    assert lines[:4] == ["id:               j1", "cancel requested: no", "gpus:             0,1",
                         "ended:            -"]
    assert lines[4].startswith("at:               2026-01-0")


def test_sizes_read_as_people_write_them() -> None:
    assert [size(n) for n in (None, 512, 2048, 5 * 1024 * 1024 + 1)] == ["-", "512 B", "2.0 KB", "5.0 MB"]


def test_the_metrics_table_has_a_row_per_point_in_iteration_order_and_a_column_per_output() -> None:
    metrics = TrainingMetrics.model_validate({
        "id": "j1", "max_iter": 100, "lr": [],
        "train": [{"iteration": 0, "outputs": {"loss": 2.3}, "loss": 2.3, "lr": 0.01},
                  {"iteration": 50, "outputs": {"loss": 0.4}, "loss": 0.4, "lr": 0.01}],
        "test": [{"iteration": 50, "outputs": {"accuracy": 0.91, "loss": 0.35}, "loss": 0.35}]})
    rows, columns = metrics_rows(metrics)
    assert table(rows, columns).splitlines() == [
        "ITERATION  PHASE  LOSS    LR  ACCURACY",
        "        0  train   2.3  0.01         -",
        "       50  train   0.4  0.01         -",
        "       50  test   0.35     -      0.91",
    ]


def test_the_progress_bar_redraws_at_most_every_interval_and_always_at_the_end() -> None:
    stream, now = Tty(), [0.0]
    bar = ProgressBar("up", stream, interval_s=1.0, clock=lambda: now[0])
    bar(0, 1000)
    now[0] = 0.5
    bar(400, 1000)  # too soon: not drawn
    now[0] = 2.0
    bar(1000, 1000)
    bar.finish()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 2
    assert frames[0].startswith("up [......") and " 0% 0 B/1000 B" in frames[0]
    assert frames[1].startswith("up [" + "#" * 30 + "] 100% 1000 B/1000 B 500 B/s") and frames[1].endswith("\n")


def test_there_is_no_progress_bar_unless_stderr_is_a_terminal() -> None:
    assert progress_for("x", io.StringIO(), enabled=True) is None
    assert progress_for("x", Tty(), enabled=False) is None
    assert isinstance(progress_for("x", Tty(), enabled=True), ProgressBar)
