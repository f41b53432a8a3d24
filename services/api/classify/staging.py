"""Images of one classify request, held while the request runs: in memory when small, on disk when not.

Every image is read (uploaded part or fetched URL) into its own spooled temporary file as it
streams in, so the API's memory does not grow with the images' sizes: up to `SPOOL_BYTES` stay in
memory, bigger ones move to a temporary file. The synchronous path reads the bytes back (`data`);
the asynchronous path streams them to the blob store (`chunks`). Everything is gone when the
`StagedImages` is closed, whatever happened.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Self

SPOOL_BYTES = 1024 * 1024
CHUNK_BYTES = 256 * 1024


@dataclass
class StagedImage:
    """One input: its name as the user gave it (file name or URL), and its bytes."""

    name: str
    file: IO[bytes] = field(repr=False)
    size: int = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.size += len(chunk)

    def data(self) -> bytes:
        self.file.seek(0)
        return self.file.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes in chunks (for `BlobStore.put`)."""
        self.file.seek(0)
        while chunk := self.file.read(CHUNK_BYTES):
            yield chunk


class StagedImages:
    """The request's images in order; a context manager that deletes them on exit."""

    def __init__(self) -> None:
        self.items: list[StagedImage] = []

    def add(self, name: str) -> StagedImage:
        image = StagedImage(name, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))  # closed by close()
        self.items.append(image)
        return image

    def discard(self, image: StagedImage) -> None:
        image.file.close()
        self.items.remove(image)

    @property
    def names(self) -> list[str]:
        return [image.name for image in self.items]

    def close(self) -> None:
        for image in self.items:
            image.file.close()
        self.items.clear()

    def __len__(self) -> int:
        return len(self.items)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
