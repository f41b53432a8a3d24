"""Upload bodies as chunk streams with progress: a file is read a chunk at a time, never whole.

The size is known for a path or a seekable file, and is then sent as Content-Length, so a server
limit refuses an oversized upload before any byte moves; chunks of unknown total go chunked.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import IO, cast

from elasticthought.client.calls import Progress, Upload, UploadSource

CHUNK_BYTES = 256 * 1024

_ARCHIVE_TYPES = ((".tar.gz", "application/gzip"), (".tgz", "application/gzip"), (".gz", "application/gzip"),
                  (".tar", "application/x-tar"), (".zip", "application/zip"))


def archive_type(name: str) -> str:
    """The media type the API expects for an archive, from its file name."""
    lower = name.lower()
    return next((kind for suffix, kind in _ARCHIVE_TYPES if lower.endswith(suffix)), "application/octet-stream")


def source_name(source: UploadSource) -> str | None:
    if isinstance(source, str | Path):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else None


def source_size(source: UploadSource) -> int | None:
    """Bytes left to read from `source`, when that can be known without reading it."""
    if isinstance(source, str | Path):
        return Path(source).stat().st_size
    f = _as_file(source)
    if f is None or not f.seekable():
        return None
    position = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(position)
    return end - position


def sync_chunks(upload: Upload) -> Iterator[bytes]:
    source = upload.source
    if isinstance(source, AsyncIterable):
        raise TypeError("async chunks need AsyncClient; Client takes a path, a file or an iterable of bytes")
    return _metered(_read(source), upload.size, upload.progress)


async def async_chunks(upload: Upload) -> AsyncIterator[bytes]:
    """Chunks for the async transport: file reads run in a thread so the event loop never blocks on disk."""
    source = upload.source
    done, total, progress = 0, upload.size, upload.progress
    if progress is not None:
        progress(0, total)
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            yield chunk
        return
    chunks = _read(source)
    while (chunk := await asyncio.to_thread(next, chunks, b"")) != b"":
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        yield chunk


def _as_file(source: UploadSource) -> IO[bytes] | None:
    return cast(IO[bytes], source) if isinstance(source, io.IOBase) else None


def _read(source: str | Path | IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, str | Path):
        return _file_chunks(Path(source))
    f = _as_file(source)
    if f is not None:
        return _stream_chunks(f)
    return (bytes(chunk) for chunk in source if chunk)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from _stream_chunks(f)


def _stream_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_BYTES):
        yield chunk


def _metered(chunks: Iterator[bytes], total: int | None, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    if progress is not None:
        progress(0, total)
    for chunk in chunks:
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        yield chunk
