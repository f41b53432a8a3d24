"""A classifier as a tar.gz that real Caffe (and other Caffe readers) load as it is, written as it streams.

Members, at the top level: `deploy.prototxt`, `<name>.caffemodel` (the weights, streamed from
the blob store), `labels.txt` (line i is the label of output i), `mean.binaryproto` when the net
subtracts the dataset's mean, and `classifier.json` (how to prepare an image: size, resize mode,
colour, channel order, scale, mean values, crop). `caffe.Net("deploy.prototxt", "<name>.caffemodel",
caffe.TEST)` loads it.

The archive is produced member by member (tar headers from `tarfile.TarInfo`, gzip by `zlib`), so
a large model never sits in memory or on disk in the API: the weights go from the blob store to the
socket chunk by chunk.
"""

from __future__ import annotations

import contextlib
import json
import re
import tarfile
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from shared.blobs import BlobStore
from shared.events.classify import ClassifierCreated

BLOCK = 512
GZIP_WBITS = 31  # zlib's gzip container
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    content: bytes | None = None  # None: streamed from the blob store at `blob`
    blob: str | None = None


def base_name(created: ClassifierCreated) -> str:
    """A file-system-safe name: the classifier's name, else Caffe's `<job>_iter_<N>`."""
    cleaned = _UNSAFE.sub("_", created.name).strip("._")
    return cleaned[:100] or f"{created.training_job_id}_iter_{created.iteration}"


def members(created: ClassifierCreated, *, weights_size: int, mean_size: int | None) -> list[Member]:
    name = base_name(created)
    described = json.dumps(_description(created, name), indent=2).encode() + b"\n"
    found = [
        Member("deploy.prototxt", len(created.deploy_prototxt.encode()), created.deploy_prototxt.encode()),
        Member(f"{name}.caffemodel", weights_size, blob=created.caffemodel_path),
        Member("labels.txt", 0, "".join(f"{label}\n" for label in created.labels).encode()),
    ]
    if created.mean_path is not None and mean_size is not None:
        found.append(Member("mean.binaryproto", mean_size, blob=created.mean_path))
    found.append(Member("classifier.json", len(described), described))
    return [Member(m.name, len(m.content), m.content) if m.content is not None else m for m in found]


async def tar_gz(blobs: BlobStore, tenant_id: str, parts: list[Member]) -> AsyncGenerator[bytes, None]:
    """The gzip-compressed tar of `parts`, in chunks as they are produced."""
    packer = zlib.compressobj(6, zlib.DEFLATED, GZIP_WBITS)
    now = int(time.time())
    for member in parts:
        info = tarfile.TarInfo(member.name)
        info.size, info.mtime, info.mode = member.size, now, 0o644
        yield packer.compress(info.tobuf(format=tarfile.PAX_FORMAT))
        written = 0
        if member.content is not None:
            written = len(member.content)
            yield packer.compress(member.content)
        else:
            assert member.blob is not None
            # closed at once when the client goes away mid-download, not whenever the GC gets to it
            async with closing(blobs.get(tenant_id, member.blob)) as chunks:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > member.size:
                        raise ValueError(f"{member.blob} grew while it was archived")
                    yield packer.compress(chunk)
        if written != member.size:
            raise ValueError(f"{member.name}: {written} bytes archived, {member.size} announced")
        yield packer.compress(b"\0" * (-member.size % BLOCK))
    yield packer.compress(b"\0" * (2 * BLOCK))
    yield packer.flush()


@contextlib.asynccontextmanager
async def closing(chunks: AsyncIterator[bytes]) -> AsyncGenerator[AsyncIterator[bytes], None]:
    """`chunks`, closed on exit if it can be (the blob store's streams are async generators)."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _description(created: ClassifierCreated, name: str) -> dict[str, object]:
    channels = 1 if created.image.color == "gray" else 3
    side = created.crop_size
    return {
        "name": created.name, "classifier_id": created.classifier_id, "training_job_id": created.training_job_id,
        "iteration": created.iteration, "deploy": "deploy.prototxt", "weights": f"{name}.caffemodel",
        "labels": "labels.txt", "input_blob": "data", "output_blob": "prob",
        "image": created.image.model_dump(), "channel_order": "gray" if channels == 1 else "BGR",
        "input_shape": [1, channels, side or created.image.height, side or created.image.width],
        "mean_file": "mean.binaryproto" if created.mean_path else None, "mean_values": created.mean_values,
        "scale": created.input_scale, "crop_size": created.crop_size,
        "preprocess": "decode, flatten transparency onto white, convert to gray or RGB, resize (resize_mode), "
                      "to CHW with BGR channel order, centre crop (crop_size), subtract the mean, multiply by scale",
    }
