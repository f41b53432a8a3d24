"""Preprocessing a classify input gives exactly the pixels the dataset builder stored for the same file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from services.storage.datasets import DatasetSpec, build_dataset
from services.storage.images import NOT_AN_IMAGE, ColorMode, ResizeMode
from services.storage.ingest import ingest_datafile
from services.worker.classify.preprocess import ImageUnusable, Preprocessor
from tests.support.archives import write_zip

CLASSES = ("a", "b", "c")
SIZES = ((20, 40), (33, 17), (16, 16), (25, 30))  # (height, width): wide, tall, square, nearly square


def picture(rng: np.random.Generator, height: int, width: int, mode: str) -> bytes:
    """Noise, so that no two images (nor two resize methods) give the same pixels; RGBA has transparency."""
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(11)
    modes = ("L", "RGB", "RGBA")
    return {label: [picture(rng, h, w, modes[(i + n) % 3]) for n, (h, w) in enumerate(SIZES)]
            for i, label in enumerate(CLASSES)}


Row = tuple[str, npt.NDArray[np.uint8]]


def built_rows(tmp_path: Path, sources: dict[str, list[bytes]], spec: DatasetSpec) -> list[Row]:
    """(label, CHW uint8 row) of every image in both splits of a dataset built the real way."""
    entries = {f"set/{label}/{n}.png": data for label, files in sources.items() for n, data in enumerate(files)}
    folder = tmp_path / "datafile"
    manifest = ingest_datafile(write_zip(tmp_path / "up.zip", entries), folder)
    built = build_dataset(folder, manifest, tmp_path / "dataset", spec)
    rows: list[Row] = []
    for part in (built.train, built.test):
        images = np.load(tmp_path / "dataset" / part.packed_images)
        labels = np.load(tmp_path / "dataset" / part.packed_labels)
        rows.extend((built.labels[int(label)], image) for image, label in zip(images, labels, strict=True))
    return rows


@pytest.mark.parametrize("color", [ColorMode.GRAY, ColorMode.RGB])
@pytest.mark.parametrize("mode", [ResizeMode.SQUASH, ResizeMode.CROP])
def test_pixels_equal_the_dataset_builders_for_the_same_file(
        tmp_path: Path, sources: dict[str, list[bytes]], color: ColorMode, mode: ResizeMode) -> None:
    spec = DatasetSpec(height=12, width=14, resize_mode=mode, color=color, test_fraction=0.25, seed=3)
    rows = built_rows(tmp_path, sources, spec)
    assert len(rows) == len(CLASSES) * len(SIZES)
    prepare = Preprocessor(height=12, width=14, resize_mode=mode, color=color)
    for label, row in rows:
        matches = [n for n, data in enumerate(sources[label]) if np.array_equal(prepare.pixels(data, "x"), row)]
        assert len(matches) == 1, (label, matches)


@pytest.mark.parametrize("mode", [ResizeMode.FILL, ResizeMode.HALF_CROP])
def test_padding_modes_equal_the_builder_except_for_the_noise_they_pad_with(
        tmp_path: Path, sources: dict[str, list[bytes]], mode: ResizeMode) -> None:
    """Only wide sources (20x40) are compared: they are padded above and below, the middle row is image."""
    spec = DatasetSpec(height=16, width=16, resize_mode=mode, color=ColorMode.RGB, test_fraction=0.25, seed=3)
    prepare = Preprocessor(height=16, width=16, resize_mode=mode, color=ColorMode.RGB)
    wide = {label: prepare.pixels(files[0], "wide") for label, files in sources.items()}
    compared = 0
    for label, row in built_rows(tmp_path, sources, spec):
        if np.array_equal(row[:, 8], wide[label][:, 8]):
            compared += 1
    assert compared == len(CLASSES)
    assert np.array_equal(prepare.pixels(sources["a"][0], "x"), wide["a"])  # the same noise every time


def test_the_transform_is_caffes_crop_then_mean_then_scale() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(3, 6, 8), dtype=np.uint8)
    mean = rng.uniform(0, 255, size=(3, 6, 8)).astype(np.float32)
    with_mean = Preprocessor(height=6, width=8, resize_mode=ResizeMode.SQUASH, color=ColorMode.RGB, scale=0.5,
                             mean=mean, crop_size=4)
    expected = (pixels[:, 1:5, 2:6].astype(np.float32) - mean[:, 1:5, 2:6]) * np.float32(0.5)
    assert with_mean.shape == (3, 4, 4)
    np.testing.assert_array_equal(with_mean.transform(pixels), expected)
    with_values = Preprocessor(height=6, width=8, resize_mode=ResizeMode.SQUASH, color=ColorMode.RGB, scale=2.0,
                               mean_values=(1.0, 2.0, 3.0))
    expected = (pixels.astype(np.float32) - np.array([1, 2, 3], dtype=np.float32).reshape(3, 1, 1)) * 2
    np.testing.assert_array_equal(with_values.transform(pixels), expected)
    assert with_values.transform(pixels).dtype == np.float32


def test_what_is_not_an_image_is_refused_naming_it() -> None:
    prepare = Preprocessor(height=4, width=4, resize_mode=ResizeMode.SQUASH, color=ColorMode.GRAY, max_pixels=10_000)
    whole = picture(np.random.default_rng(0), 8, 8, "L")
    cases = {"notes.txt": b"hello", "cut.png": whole[: len(whole) // 2], "huge.png": picture(np.random.default_rng(0),
                                                                                              200, 200, "L")}
    reasons = {}
    for name, data in cases.items():
        with pytest.raises(ImageUnusable) as refused:
            prepare(data, name)
        assert refused.value.name == name and name in str(refused.value)
        reasons[name] = refused.value.reason
    assert reasons["notes.txt"] == NOT_AN_IMAGE
    assert "over the 10000-pixel limit" in reasons["huge.png"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"mean": np.zeros((1, 4, 4), dtype=np.float32)}, "the mean image is [1, 4, 4]"),
    ({"mean_values": (1.0, 2.0)}, "one mean value or one per channel (3)"),
    ({"crop_size": 5}, "crop_size 5 is larger"),
])
def test_settings_that_do_not_fit_the_images_are_refused(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError) as refused:
        Preprocessor(height=4, width=4, resize_mode=ResizeMode.SQUASH, color=ColorMode.RGB, **kwargs)  # type: ignore[arg-type]
    assert words in str(refused.value)
