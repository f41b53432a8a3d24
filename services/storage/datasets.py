"""Build a dataset from an extracted datafile: split, resize, and write every form a trainer reads.

Output directory (all paths in the manifest are relative to it):

- `labels.txt`: class names sorted, line i is label i;
- `train_lmdb/`, `test_lmdb/`: Caffe Datum LMDBs, CHW uint8, BGR for colour (Data layer);
- `mean.binaryproto`: mean of the train split, as compute_image_mean writes it;
- `images/<split>/<label>/<n>.png` and `train.txt`, `test.txt`: ImageData layer inputs (list paths
  are relative to the dataset directory: give the layer `root_folder: "<dataset dir>/"`); with
  `pack_bytes` the PNGs are written into packs `images/<split>/pack-NNNNN.tar` instead (members
  `<label>/<n>.png`, see `shared.blobs.packs`), which is how the storage service stores them;
- `<split>_images.npy` (N, C, H, W uint8, BGR) and `<split>_labels.npy` (N, int32): the packed
  form our torch engine memory-maps; row i is LMDB record i and list line i;
- `manifest.json`: the `DatasetManifest` returned.

The build runs in a staging directory and is published by one rename, so a failure anywhere (an
image that no longer decodes, a full disk) leaves no output directory behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from services.storage.datafile import DatafileManifest
from services.storage.errors import DatafileRejected
from services.storage.images import HWC, ColorMode, ImageProblem, ResizeMode, load_image, resize_image
from services.storage.split import Example, Split, class_counts, stratified_split
from services.storage.split_writer import SplitWriter
from services.storage.staging import staged_directory
from shared.caffe.binaryproto import write_mean
from shared.caffe.datum import ImageEncoding

MANIFEST_NAME = "manifest.json"
LABELS_NAME = "labels.txt"
MEAN_NAME = "mean.binaryproto"


class DatasetSpec(BaseModel):
    """What the user asked for: image size and mode, colour, split fraction and seed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    height: int = Field(ge=1, le=4096)
    width: int = Field(ge=1, le=4096)
    resize_mode: ResizeMode = ResizeMode.SQUASH
    color: ColorMode = ColorMode.RGB
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)
    lmdb_encoding: ImageEncoding | None = None


class OutputFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size: int = Field(ge=0)


class SplitManifest(BaseModel):
    """One split's outputs; `class_counts[label]` is how many images of that class it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=1)
    class_counts: tuple[int, ...]
    lmdb: str
    list_file: str
    image_dir: str
    image_bytes: int = Field(ge=0)
    packed_images: str
    packed_labels: str
    packed_shape: tuple[int, int, int, int]


class DatasetManifest(BaseModel):
    """Every output of a build. `files` lists all files except the PNGs, which the list files name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: DatasetSpec
    source_sha256: str
    labels: tuple[str, ...]
    shape: tuple[int, int, int]
    channel_order: str
    labels_file: str
    mean_file: str
    train: SplitManifest
    test: SplitManifest
    files: tuple[OutputFile, ...]
    total_bytes: int = Field(ge=0)


def build_dataset(
    datafile_dir: str | Path, datafile: DatafileManifest, output_dir: str | Path, spec: DatasetSpec,
    *, pack_bytes: int | None = None,
) -> DatasetManifest:
    """Build the dataset `spec` describes from an extracted datafile into `output_dir` (absent or empty).

    `pack_bytes`: write the PNGs into packs of about that size rather than one file each.
    CPU- and disk-bound and synchronous: run it in a worker thread or process.
    """
    source = Path(datafile_dir)
    labels = datafile.class_names
    label_of = {name: index for index, name in enumerate(labels)}
    examples = [Example(entry.path, label_of[entry.class_name]) for entry in datafile.files]
    split = stratified_split(examples, spec.test_fraction, spec.seed)
    if not split.test:
        raise DatafileRejected("too few images for a test split: every class holds a single image")
    shape = (spec.color.channels, spec.height, spec.width)
    with staged_directory(output_dir) as root:
        noise = np.random.default_rng([spec.seed, 1])  # fill/half_crop borders, reproducibly
        train = _write_split(root, "train", split, source, spec, noise, len(labels), pack_bytes)
        test = _write_split(root, "test", split, source, spec, noise, len(labels), pack_bytes)
        (root / LABELS_NAME).write_text("".join(f"{name}\n" for name in labels), encoding="utf-8")
        manifest = _manifest(root, datafile, spec, shape, train, test)
        (root / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def _write_split(
    root: Path, name: str, split: Split, source: Path, spec: DatasetSpec, noise: np.random.Generator, classes: int,
    pack_bytes: int | None,
) -> SplitManifest:
    part = split.train if name == "train" else split.test
    shape = (spec.color.channels, spec.height, spec.width)
    with SplitWriter(root, name, len(part), shape, encoding=spec.lmdb_encoding, pack_bytes=pack_bytes) as writer:
        for example in part:
            writer.add(_prepared(source, example, spec, noise), example.label)
    if name == "train":
        write_mean(root / MEAN_NAME, writer.mean())
    paths = writer.paths
    return SplitManifest(
        count=writer.written,
        class_counts=class_counts(part, classes),
        lmdb=paths.lmdb,
        list_file=paths.list_file,
        image_dir=paths.image_dir,
        image_bytes=writer.image_bytes,
        packed_images=paths.packed_images,
        packed_labels=paths.packed_labels,
        packed_shape=(writer.written, *shape),
    )


def _prepared(source: Path, example: Example, spec: DatasetSpec, noise: np.random.Generator) -> HWC:
    """Decode and resize one image; a file that stopped being an image rejects the build."""
    try:
        image = load_image(source / example.path, spec.color)
    except ImageProblem as problem:
        raise DatafileRejected(f"not a readable image ({problem})", example.path) from problem
    return resize_image(image, spec.height, spec.width, spec.resize_mode, rng=noise)


def _manifest(
    root: Path, datafile: DatafileManifest, spec: DatasetSpec, shape: tuple[int, int, int],
    train: SplitManifest, test: SplitManifest,
) -> DatasetManifest:
    files = tuple(_output_files(root))
    return DatasetManifest(
        spec=spec,
        source_sha256=datafile.sha256,
        labels=datafile.class_names,
        shape=shape,
        channel_order="gray" if spec.color is ColorMode.GRAY else "BGR",
        labels_file=LABELS_NAME,
        mean_file=MEAN_NAME,
        train=train,
        test=test,
        files=files,
        total_bytes=sum(f.size for f in files) + train.image_bytes + test.image_bytes,
    )


def _output_files(root: Path) -> list[OutputFile]:
    """Every file written so far except the per-image PNGs, sorted by path."""
    found: list[OutputFile] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d != "images"]
        found.extend(OutputFile(path=(here / n).relative_to(root).as_posix(), size=(here / n).stat().st_size)
                     for n in names)
    return sorted(found, key=lambda f: f.path)
