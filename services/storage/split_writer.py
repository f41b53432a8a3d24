"""Write one split of a dataset in all its forms at once, one image at a time.

Each image is decoded and resized once and then goes to every sink: the Datum LMDB (Caffe's Data
layer), a PNG plus a list line (Caffe's ImageData layer), the packed arrays (our torch engine) and
the running sum for the mean image. With `pack_bytes` the PNGs go straight into tar packs in the
image folder (`shared.blobs.packs`, members `<label>/<n>.png`) instead of one file each: the
storage service stores them that way, and creating thousands of small files only to pack them
afterwards was a good part of a build's time. Only the packed array is dataset-sized, and it is a memmap, so
memory stays flat whatever the size of the dataset.

Pixel layout everywhere except the PNGs is Caffe's: CHW, colour channels in BGR order (what
OpenCV hands Caffe's readers). PNGs hold ordinary RGB, which OpenCV reads back as BGR.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from PIL import Image

from shared.blobs.packs import PackWriter
from shared.caffe.datum import ImageEncoding
from shared.caffe.datum_lmdb import DEFAULT_BATCH_SIZE, DatumLmdbWriter
from shared.caffe.image_list import format_line

CHW = npt.NDArray[np.uint8]
PENDING_LMDB_BYTES = 64 << 20
"""Roughly how much raw pixel data may wait for one LMDB commit; bounds memory for big images."""


def caffe_chw(image: npt.NDArray[np.uint8]) -> CHW:
    """HWC (RGB or gray) to Caffe's CHW, with colour channels reversed to BGR."""
    if image.shape[2] == 3:
        image = image[:, :, ::-1]
    return np.ascontiguousarray(image.transpose(2, 0, 1))


@dataclass(frozen=True, slots=True)
class SplitPaths:
    """Where a split's outputs go, relative to the dataset directory."""

    lmdb: str
    list_file: str
    image_dir: str
    packed_images: str
    packed_labels: str

    @classmethod
    def named(cls, name: str) -> SplitPaths:
        return cls(
            lmdb=f"{name}_lmdb",
            list_file=f"{name}.txt",
            image_dir=f"images/{name}",
            packed_images=f"{name}_images.npy",
            packed_labels=f"{name}_labels.npy",
        )


class SplitWriter:
    """Sinks of one split; `count` must be known up front because the packed arrays are preallocated."""

    def __init__(
        self, root: Path, name: str, count: int, shape: tuple[int, int, int],
        *, encoding: ImageEncoding | None = None, pack_bytes: int | None = None,
    ) -> None:
        self.root = root
        self.paths = SplitPaths.named(name)
        self.count = count
        self.written = 0
        self.image_bytes = 0
        self.pixel_sum = np.zeros(shape, dtype=np.float64)
        self._stack = contextlib.ExitStack()
        batch = max(1, min(DEFAULT_BATCH_SIZE, PENDING_LMDB_BYTES // int(np.prod(shape))))
        self._lmdb = self._stack.enter_context(
            DatumLmdbWriter(root / self.paths.lmdb, encoding=encoding, batch_size=batch))
        self._listing = self._stack.enter_context((root / self.paths.list_file).open("w", encoding="utf-8"))
        self._images: np.memmap[Any, np.dtype[np.uint8]] = np.lib.format.open_memmap(
            root / self.paths.packed_images, mode="w+", dtype=np.uint8, shape=(count, *shape))
        self._labels: np.memmap[Any, np.dtype[np.int32]] = np.lib.format.open_memmap(
            root / self.paths.packed_labels, mode="w+", dtype=np.int32, shape=(count,))
        self._label_dirs: set[int] = set()
        self._pack: PackWriter | None = None
        if pack_bytes is not None:
            self._pack = PackWriter(root / self.paths.image_dir, pack_bytes)
            self._stack.callback(self._pack.close)

    def add(self, image: npt.NDArray[np.uint8], label: int) -> None:
        """Append one resized HWC image with its label to every sink, at the same index."""
        index = self.written
        if index >= self.count:
            raise ValueError(f"split {self.paths.lmdb} was sized for {self.count} images")
        chw = caffe_chw(image)
        self._lmdb.put(chw, label)
        self._images[index] = chw
        self._labels[index] = label
        self.pixel_sum += chw
        relative = f"{self.paths.image_dir}/{label}/{index:08d}.png"
        self.image_bytes += self._save_png(image, label, relative)
        self._listing.write(format_line(relative, label))
        self.written += 1

    def mean(self) -> npt.NDArray[np.float32]:
        """The CHW mean image of what was written, as compute_image_mean computes it."""
        return (self.pixel_sum / max(self.written, 1)).astype(np.float32)

    def close(self) -> None:
        try:
            self._images.flush()
            self._labels.flush()
        finally:
            self._stack.close()

    def _save_png(self, image: npt.NDArray[np.uint8], label: int, relative: str) -> int:
        picture = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        if self._pack is not None:
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            self._pack.add(relative.removeprefix(self.paths.image_dir + "/"), buffer.getvalue())
            return buffer.tell()
        if label not in self._label_dirs:
            (self.root / self.paths.image_dir / str(label)).mkdir(parents=True, exist_ok=True)
            self._label_dirs.add(label)
        path = self.root / relative
        picture.save(path, format="PNG")
        return path.stat().st_size

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
