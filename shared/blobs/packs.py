"""Many small files stored as a few blobs: uncompressed tar "packs" named `pack-NNNNN.tar`.

Why: a datafile or dataset is thousands of small images (MNIST: 10,000 PNGs of ~300 bytes), and
one blob write per file is what made ingest and builds slow (each write is a request to S3, or a
temp file, two fsyncs and a rename on a local disk). A pack holds the files of one folder, named
relative to that folder, so a pack stored at `<folder>/pack-00000.tar` stands for the files
`<folder>/<its member names>`. Packs are cut at about `max_bytes` so a huge folder still moves as
several blobs at once; they are uncompressed because images already are.

Packs are written by our own services, but they are read back from a shared blob store, so
`extract_pack` trusts nothing in them: regular files only, plain relative names, nothing written
twice or outside the target, and (when the caller knows them) only the names it expects.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path, PurePosixPath

MIB = 1024 * 1024
DEFAULT_PACK_BYTES = 64 * MIB
PACK_CONTENT_TYPE = "application/x-tar"
_PACK_NAME = re.compile(r"pack-\d{5,}\.tar")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PackError(Exception):
    """A pack that does not hold what it should: damaged, or not one of ours."""

    def __init__(self, reason: str, member: str | None = None) -> None:
        self.reason = reason
        self.member = member
        super().__init__(reason if member is None else f"{reason}: {member!r}")

    def __repr__(self) -> str:
        return f"PackError(reason={self.reason!r}, member={self.member!r})"


def pack_name(index: int) -> str:
    return f"pack-{index:05d}.tar"


def is_pack(path: str) -> bool:
    """Whether the last segment of `path` names a pack."""
    return _PACK_NAME.fullmatch(path.rsplit("/", 1)[-1]) is not None


def group_files(root: Path, paths: Sequence[str], max_bytes: int = DEFAULT_PACK_BYTES) -> list[list[str]]:
    """`paths` (relative to `root`) cut, in order, into groups of at most `max_bytes` each. Blocking.

    A file larger than `max_bytes` gets a group of its own; no group is empty.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for path in paths:
        length = (root / path).stat().st_size
        if current and size + length > max_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(path)
        size += length
    if current:
        groups.append(current)
    return groups


def write_pack(root: Path, paths: Iterable[str], target: Path) -> None:
    """Write the files `root/<path>` into a new tar at `target`, each named `<path>`. Blocking."""
    with tarfile.open(target, "x", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            source = root / path
            with source.open("rb") as stream:
                archive.addfile(_member(path, source.stat().st_size), stream)


class PackWriter:
    """Files handed over as bytes, written into packs `<folder>/pack-NNNNN.tar` of about `max_bytes`.

    For producers that make many small files (a dataset build's PNGs): they go straight into
    packs instead of being created one by one and packed afterwards. Blocking; close it when done.
    """

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_PACK_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        self.folder = folder
        self.max_bytes = max_bytes
        self.names: list[str] = []
        self._archive: tarfile.TarFile | None = None
        self._size = 0

    def add(self, name: str, data: bytes) -> None:
        _safe_parts(name)
        if self._archive is None or (self._size and self._size + len(data) > self.max_bytes):
            self._next()
        assert self._archive is not None
        self._archive.addfile(_member(name, len(data)), io.BytesIO(data))
        self._size += len(data)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    def _next(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        name = pack_name(len(self.names))
        self._archive = tarfile.open(self.folder / name, "x", format=tarfile.PAX_FORMAT)
        self.names.append(name)
        self._size = 0


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info


def extract_pack(pack: Path, target: Path, *, expected: Collection[str] | None = None) -> list[str]:
    """Write every member of `pack` under `target`; returns their names. Blocking.

    Raises `PackError` for a member that is not a regular file, has an unsafe name, is not in
    `expected` (when given) or is already there. What was written before the error stays: extract
    into a staging folder and drop it on failure.
    """
    written: list[str] = []
    try:
        with tarfile.open(pack, "r|") as archive:
            for info in archive:
                _extract_member(archive, info, target, expected)
                written.append(info.name)
    except tarfile.TarError as e:
        raise PackError(f"not a readable pack ({e})", pack.name) from e
    return written


def _extract_member(archive: tarfile.TarFile, info: tarfile.TarInfo, target: Path,
                    expected: Collection[str] | None) -> None:
    if not info.isreg():
        raise PackError("pack member is not a regular file", info.name)
    parts = _safe_parts(info.name)
    if expected is not None and info.name not in expected:
        raise PackError("pack member is not one of the expected files", info.name)
    source = archive.extractfile(info)
    if source is None:  # a regular file always has a stream; refuse rather than write nothing
        raise PackError("pack member has no content", info.name)
    destination = target.joinpath(*parts)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        out = os.fdopen(os.open(destination, _CREATE, 0o644), "wb")
    except (FileExistsError, NotADirectoryError) as e:
        raise PackError("pack member collides with another file", info.name) from e
    with out:
        while chunk := source.read(MIB):
            out.write(chunk)


def _safe_parts(name: str) -> tuple[str, ...]:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or "\\" in name or "\0" in name:
        raise PackError("unsafe pack member name", name)
    parts = tuple(name.split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise PackError("unsafe pack member name", name)
    return parts
