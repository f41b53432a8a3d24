"""Blocking filesystem steps of the local blob store: path checks, stat, scan, delete.

Kept apart from the async adapter so each step is one plain function to hand to a worker thread.
A blob's path is only ever the blob root joined with a checked key, and it is refused when any part
of it is a symbolic link, so a link planted in the data folder cannot lead out of the root or into
another tenant's folder.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shared.blobs.errors import BlobNotFound, InvalidBlobKey
from shared.blobs.keys import RESERVED_SEGMENT_PREFIX

SHA256_ATTRIBUTE = "et.sha256"
CONTENT_TYPE_ATTRIBUTE = "et.content_type"


@dataclass(frozen=True)
class FileEntry:
    key: str
    size: int
    modified_at: datetime
    sha256: str | None = None


def blob_path(root: Path, key: str) -> Path:
    """`root/key`, refused when a symlink sits anywhere on the way (root itself is resolved)."""
    path = root / key
    if os.path.realpath(path) != str(path):
        raise InvalidBlobKey(key, "passes through a symbolic link")
    return path


def stat_file(root: Path, key: str) -> FileEntry:
    path = blob_path(root, key)
    try:
        st = os.stat(path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise BlobNotFound(key) from e
    if not _is_regular(st.st_mode):
        raise BlobNotFound(key)
    return FileEntry(key, st.st_size, _mtime(st.st_mtime), read_attribute(path, SHA256_ATTRIBUTE))


def read_attribute(path: Path, name: str) -> str | None:
    try:
        return os.getxattr(path, f"user.{name}", follow_symlinks=False).decode()
    except OSError:
        return None  # no such attribute, or a filesystem without them


def scan(root: Path, key_prefix: str) -> list[FileEntry]:
    """Every regular file whose key starts with `key_prefix`, sorted by key as S3 lists them."""
    folder, _, _ = key_prefix.rpartition("/")
    entries: list[FileEntry] = []
    if os.path.realpath(root / folder) != str(root / folder):
        return entries  # the folder is, or passes through, a symlink: nothing of ours is there
    _scan_into(root, folder, key_prefix, entries)
    entries.sort(key=lambda entry: entry.key)
    return entries


def _scan_into(root: Path, folder: str, key_prefix: str, out: list[FileEntry]) -> None:
    try:
        iterator = os.scandir(root / folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with iterator:
        for entry in iterator:
            key = f"{folder}/{entry.name}" if folder else entry.name
            if entry.name.startswith(RESERVED_SEGMENT_PREFIX) or entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if key.startswith(key_prefix):
                    _scan_into(root, key, key_prefix, out)
            elif entry.is_file(follow_symlinks=False) and key.startswith(key_prefix):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the folder was read (a concurrent delete_prefix): not listed
                out.append(FileEntry(key, st.st_size, _mtime(st.st_mtime)))


def delete_file(root: Path, key: str, stop_at: Path) -> bool:
    """Unlink one blob and prune folders it leaves empty, up to `stop_at`; False when missing."""
    path = blob_path(root, key)
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False
    prune_empty_folders(path.parent, stop_at)
    return True


def prune_empty_folders(folder: Path, stop_at: Path) -> None:
    """Empty folders would otherwise pile up forever under a tenant's deleted datasets."""
    while folder != stop_at and folder.is_relative_to(stop_at):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone, or busy): leave it
        folder = folder.parent


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
