"""Dataset builds on small synthetic datafiles: every output form holds the same pixels and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.storage.datafile import DatafileManifest
from services.storage.datasets import DatasetManifest, DatasetSpec, build_dataset
from services.storage.errors import DatafileRejected
from services.storage.images import NOT_AN_IMAGE, ColorMode, ResizeMode
from services.storage.ingest import ingest_datafile
from shared.blobs.packs import extract_pack, is_pack
from shared.caffe.binaryproto import read_mean
from shared.caffe.datum_lmdb import DatumLmdbReader
from shared.caffe.image_list import read_image_list
from tests.support.archives import array_png, leftovers, write_zip

COLOURS = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}


def colour_datafile(tmp_path: Path, per_class: int = 5) -> tuple[Path, DatafileManifest]:
    """Flat-colour images of varied sizes, one colour per class, ingested the real way."""
    entries = {}
    for name, rgb in COLOURS.items():
        for index in range(per_class):
            height, width = 6 + index, 9 - index
            entries[f"colours/{name}/{index}.png"] = array_png(np.full((height, width, 3), rgb, dtype=np.uint8))
    folder = tmp_path / "datafile"
    return folder, ingest_datafile(write_zip(tmp_path / "up.zip", entries), folder)


Datafile = tuple[Path, DatafileManifest]


@pytest.fixture
def colours(tmp_path: Path) -> Datafile:
    return colour_datafile(tmp_path)


def build(datafile: Datafile, spec: DatasetSpec, name: str = "dataset") -> tuple[Path, DatasetManifest]:
    folder, manifest = datafile
    output = folder.parent / name
    return output, build_dataset(folder, manifest, output, spec)


def test_every_output_form_holds_the_same_bgr_pixels_and_labels(colours: Datafile) -> None:
    out, manifest = build(colours, DatasetSpec(height=4, width=3, resize_mode=ResizeMode.CROP, test_fraction=0.4))
    assert manifest.labels == ("blue", "green", "red")
    assert (out / "labels.txt").read_text() == "blue\ngreen\nred\n"
    assert (manifest.train.count, manifest.test.count) == (9, 6)
    assert (manifest.train.class_counts, manifest.test.class_counts) == ((3, 3, 3), (2, 2, 2))
    for part in (manifest.train, manifest.test):
        packed = np.load(out / part.packed_images, mmap_mode="r")
        labels = np.load(out / part.packed_labels, mmap_mode="r")
        assert packed.shape == part.packed_shape == (part.count, 3, 4, 3)
        listed = read_image_list(out / part.list_file)
        with DatumLmdbReader(out / part.lmdb) as reader:
            records = list(reader)
        assert [label for _, label in records] == labels.tolist() == [label for _, label in listed]
        for index, ((pixels, label), (png, _)) in enumerate(zip(records, listed, strict=True)):
            assert np.array_equal(pixels, packed[index])
            bgr = tuple(reversed(COLOURS[manifest.labels[label]]))
            assert pixels[:, 0, 0].tolist() == list(bgr)  # Caffe's channel order
            assert np.asarray(Image.open(out / png))[0, 0].tolist() == list(COLOURS[manifest.labels[label]])


def test_mean_is_the_train_split_average_in_caffe_layout(colours: Datafile) -> None:
    out, manifest = build(colours, DatasetSpec(height=4, width=4, test_fraction=0.4))
    mean = read_mean(out / manifest.mean_file)
    train = np.load(out / manifest.train.packed_images).astype(np.float64)
    assert mean.shape == (3, 4, 4)
    np.testing.assert_allclose(mean, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(mean[:, 0, 0], [85, 85, 85], atol=1e-4)  # three pure colours, equally many


def test_manifest_lists_every_output_file_with_its_size(colours: Datafile) -> None:
    out, manifest = build(colours, DatasetSpec(height=4, width=4, color=ColorMode.GRAY))
    on_disk = {p.relative_to(out).as_posix(): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    listed = {f.path: f.size for f in manifest.files}
    assert listed == {path: size for path, size in on_disk.items()
                      if not path.startswith("images/") and path != "manifest.json"}
    pngs = [p for p in on_disk if p.startswith("images/")]
    assert len(pngs) == manifest.train.count + manifest.test.count
    assert manifest.train.image_bytes + manifest.test.image_bytes == sum(on_disk[p] for p in pngs)
    assert DatasetManifest.model_validate_json((out / "manifest.json").read_text()) == manifest
    assert manifest.shape == (1, 4, 4) and manifest.channel_order == "gray"


def test_packed_pngs_are_the_files_an_unpacked_build_writes_in_packs_of_the_size_asked(colours: Datafile) -> None:
    spec = DatasetSpec(height=4, width=4, test_fraction=0.4)
    plain, manifest = build(colours, spec, "plain")
    folder, datafile = colours
    packed = folder.parent / "packed"
    assert build_dataset(folder, datafile, packed, spec, pack_bytes=300) == manifest
    for part in (manifest.train, manifest.test):
        image_dir = packed / part.image_dir
        packs = sorted(path.name for path in image_dir.iterdir())
        assert len(packs) > 1 and all(is_pack(name) for name in packs)  # small packs: several per split
        for name in packs:
            extract_pack(image_dir / name, folder.parent / "unpacked" / part.image_dir)
    unpacked = folder.parent / "unpacked"
    pngs = sorted(p.relative_to(plain).as_posix() for p in (plain / "images").rglob("*.png"))
    assert sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*.png")) == pngs
    assert all((unpacked / png).read_bytes() == (plain / png).read_bytes() for png in pngs)
    for name in ("train.txt", "train_images.npy", "mean.binaryproto"):
        assert (packed / name).read_bytes() == (plain / name).read_bytes()
    # LMDB files are not byte-for-byte reproducible (page slack keeps whatever memory held): compare records
    with DatumLmdbReader(packed / "train_lmdb") as ours, DatumLmdbReader(plain / "train_lmdb") as theirs:
        assert [(key, datum.SerializeToString()) for key, datum in ours.datums()] == [
            (key, datum.SerializeToString()) for key, datum in theirs.datums()]


def test_same_spec_builds_identical_datasets_including_fill_noise(colours: Datafile) -> None:
    spec = DatasetSpec(height=8, width=8, resize_mode=ResizeMode.FILL, seed=3)
    first, _ = build(colours, spec, "first")
    second, _ = build(colours, spec, "second")
    for name in ("train_images.npy", "test_images.npy", "train.txt", "mean.binaryproto"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    other, _ = build(colours, spec.model_copy(update={"seed": 4}), "other")
    assert (first / "train_images.npy").read_bytes() != (other / "train_images.npy").read_bytes()


def test_an_image_that_no_longer_decodes_fails_the_build_and_leaves_nothing(tmp_path: Path) -> None:
    folder, datafile = colour_datafile(tmp_path)
    (folder / "red" / "3.png").write_bytes(b"gone bad")
    output = tmp_path / "dataset"
    with pytest.raises(DatafileRejected) as caught:
        build_dataset(folder, datafile, output, DatasetSpec(height=4, width=4))
    assert (caught.value.reason, caught.value.member) == (f"not a readable image ({NOT_AN_IMAGE})", "red/3.png")
    assert leftovers(output) == [] and not output.exists()


def test_a_datafile_too_small_for_a_test_split_is_refused(tmp_path: Path) -> None:
    folder, datafile = colour_datafile(tmp_path, per_class=1)
    with pytest.raises(DatafileRejected, match="too few images for a test split"):
        build_dataset(folder, datafile, tmp_path / "dataset", DatasetSpec(height=4, width=4))
    assert not (tmp_path / "dataset").exists()


def test_an_existing_dataset_is_never_overwritten(colours: Datafile) -> None:
    out, _ = build(colours, DatasetSpec(height=4, width=4))
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(FileExistsError):
        build(colours, DatasetSpec(height=5, width=5))
    assert sorted(p.name for p in out.iterdir()) == before


def test_spec_validation_is_strict() -> None:
    with pytest.raises(ValueError, match="less than 1"):
        DatasetSpec(height=4, width=4, test_fraction=1.0)
    with pytest.raises(ValueError, match="resize_mode"):
        DatasetSpec.model_validate({"height": 4, "width": 4, "resize_mode": "stretch"})
