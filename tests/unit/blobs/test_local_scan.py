"""Listing the local blob store while another task deletes under the same prefix.

Two deletions of one prefix can overlap (a classify job's staged images are removed by the worker
that ran it and by the storage service on the job's end): a file one of them removed after the
other read the folder must be skipped, not fail the listing with FileNotFoundError.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from shared.blobs import localfs

REAL_SCANDIR = os.scandir


class ReadThenDeleted:
    """What `os.scandir` returns, for entries read before `victim` was unlinked by someone else."""

    def __init__(self, folder: Path, victim: Path) -> None:
        with REAL_SCANDIR(folder) as found:
            self.entries = list(found)
        victim.unlink()

    def __enter__(self) -> ReadThenDeleted:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        return iter(self.entries)


def test_a_file_deleted_while_its_folder_is_scanned_is_left_out(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "tenants" / "t1" / "jobs" / "j1" / "inputs"
    folder.mkdir(parents=True)
    for name in ("000000", "000001", "000002"):
        (folder / name).write_bytes(b"png")

    def racing_scandir(path: Path) -> object:
        return ReadThenDeleted(folder, folder / "000001") if Path(path) == folder else REAL_SCANDIR(path)

    monkeypatch.setattr(os, "scandir", racing_scandir)
    listed = localfs.scan(tmp_path, "tenants/t1/jobs/j1/inputs/")
    assert [entry.key for entry in listed] == ["tenants/t1/jobs/j1/inputs/000000", "tenants/t1/jobs/j1/inputs/000002"]
