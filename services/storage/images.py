"""Load, validate and resize images the way DIGITS and Caffe users expect.

Loading follows DIGITS' `load_image`: transparency is flattened onto white, then the image is
converted to gray (`L`) or RGB. Resizing follows DIGITS' `resize_image` (bilinear, Pillow's
filter, which is what scipy's imresize used) in its four modes:

- `squash`: resize to the target ignoring the aspect ratio;
- `crop`: resize so the shorter side fits, then cut the centre;
- `fill`: resize so the longer side fits, then pad the short side with uniform noise in [0, 255),
  as DIGITS does (noise, not black, so the net cannot learn the border);
- `half_crop`: resize to the mean of the two ratios, crop the long side, pad the short side.

Two deliberate differences: the noise comes from the generator the caller passes (datasets seed it,
so a rebuild is identical; DIGITS used numpy's global state), and sizes are rounded half away from
zero, like the Python 2 `round` DIGITS ran on. Arrays are HWC uint8 (C = 1 for gray, RGB order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from services.storage.errors import DatafileRejected

HWC = npt.NDArray[np.uint8]
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "PPM", "GIF", "TIFF", "WEBP")
"""Raster formats Pillow and OpenCV (Caffe's reader) both decode. Only these plugins are even tried,
so a hostile file never reaches Pillow's other parsers (EPS, for one, would run Ghostscript)."""
NOT_AN_IMAGE = f"not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"
DECODE_ERRORS = (Exception,)
"""Pillow's decoders raise many types on hostile input (OSError, ValueError, SyntaxError, struct.error,
IndexError, ...); every one of them means "not a usable image", never a crash of the service."""
DEFAULT_MAX_PIXELS = 50_000_000
LISTED_BAD_FILES = 10


class ResizeMode(StrEnum):
    SQUASH = "squash"
    CROP = "crop"
    FILL = "fill"
    HALF_CROP = "half_crop"


class ColorMode(StrEnum):
    GRAY = "gray"
    RGB = "rgb"

    @property
    def channels(self) -> int:
        return 1 if self is ColorMode.GRAY else 3


class ImageProblem(Exception):
    """Why one file is not a usable image; collected per file, then reported together."""


def load_image(path: Path | BinaryIO, color: ColorMode, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> HWC:
    """Decode a whole image (a file, or an open binary stream) into HWC uint8; raises `ImageProblem` if unusable."""
    try:
        with Image.open(path, formats=ACCEPTED_FORMATS) as picture:
            _check_header(picture, max_pixels)
            picture.load()
            return _to_array(_flatten(picture), color)
    except ImageProblem:
        raise
    except DECODE_ERRORS as error:
        raise ImageProblem(_describe(error)) from error


def image_problem(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """What is wrong with the file as an image, or None: structure check (`verify`) plus a full decode.

    `verify` catches broken PNG chunks that a decode may forgive; the decode catches truncated
    JPEG data that `verify` never reads.
    """
    try:
        with Image.open(path, formats=ACCEPTED_FORMATS) as picture:
            _check_header(picture, max_pixels)
            picture.verify()
        load_image(path, ColorMode.RGB, max_pixels=max_pixels)
    except ImageProblem as problem:
        return str(problem)
    except DECODE_ERRORS as error:
        return _describe(error)
    return None


def verify_images(root: Path, paths: Iterable[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Reject the datafile if any file under `root` is not a readable image, listing the bad ones."""
    bad = [(path, problem) for path in paths if (problem := image_problem(root / path, max_pixels=max_pixels))]
    if not bad:
        return
    listed = "; ".join(f"{path} ({problem})" for path, problem in bad[:LISTED_BAD_FILES])
    more = f"; and {len(bad) - LISTED_BAD_FILES} more" if len(bad) > LISTED_BAD_FILES else ""
    noun = "file is" if len(bad) == 1 else "files are"
    raise DatafileRejected(f"{len(bad)} {noun} not a readable image: {listed}{more}", bad[0][0])


def resize_image(
    image: HWC, height: int, width: int, mode: ResizeMode = ResizeMode.SQUASH,
    *, rng: np.random.Generator | None = None,
) -> HWC:
    """Resize an HWC image to (height, width) in one of DIGITS' modes; `rng` draws the fill noise."""
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    source_height, source_width = image.shape[:2]
    if (source_height, source_width) == (height, width):
        return image
    width_ratio, height_ratio = source_width / width, source_height / height
    if mode is ResizeMode.SQUASH or width_ratio == height_ratio:
        return _scale(image, height, width)
    if mode is ResizeMode.CROP:
        return _resize_crop(image, height, width, width_ratio, height_ratio)
    return _resize_fill(image, height, width, mode, rng or np.random.default_rng())


def _resize_crop(image: HWC, height: int, width: int, width_ratio: float, height_ratio: float) -> HWC:
    """Fit the shorter side, then cut the centre of the longer one."""
    if width_ratio > height_ratio:
        return _centre(_scale(image, height, _round(image.shape[1] / height_ratio)), width, axis=1)
    return _centre(_scale(image, _round(image.shape[0] / width_ratio), width), height, axis=0)


def _resize_fill(image: HWC, height: int, width: int, mode: ResizeMode, rng: np.random.Generator) -> HWC:
    """`fill` and `half_crop`: scale, (crop the long side), pad the short side with noise.

    The scaled short side gets the parity of the target so the padding splits evenly.
    """
    source_height, source_width = image.shape[:2]
    width_ratio, height_ratio = source_width / width, source_height / height
    wide = width_ratio > height_ratio
    ratio = (width_ratio if wide else height_ratio) if mode is ResizeMode.FILL else (width_ratio + height_ratio) / 2
    scaled_height = max(1, _round(source_height / ratio)) if wide or mode is ResizeMode.HALF_CROP else height
    scaled_width = max(1, _round(source_width / ratio)) if not wide or mode is ResizeMode.HALF_CROP else width
    if wide and (height - scaled_height) % 2:
        scaled_height += 1
    if not wide and (width - scaled_width) % 2:
        scaled_width += 1
    scaled = _scale(image, scaled_height, scaled_width)
    if mode is ResizeMode.HALF_CROP:
        scaled = _centre(scaled, width, axis=1) if wide else _centre(scaled, height, axis=0)
    return _pad_with_noise(scaled, height, width, axis=0 if wide else 1, rng=rng)


def _scale(image: HWC, height: int, width: int) -> HWC:
    """Bilinear resize with Pillow (antialiased when shrinking, as scipy's imresize was)."""
    gray = image.shape[2] == 1
    picture = Image.fromarray(image[:, :, 0] if gray else image)
    scaled = np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)
    return scaled[:, :, np.newaxis] if gray else scaled


def _centre(image: HWC, size: int, *, axis: int) -> HWC:
    start = _round((image.shape[axis] - size) / 2)
    return image[start : start + size] if axis == 0 else image[:, start : start + size]


def _pad_with_noise(image: HWC, height: int, width: int, *, axis: int, rng: np.random.Generator) -> HWC:
    padding = ((height - image.shape[0]) if axis == 0 else (width - image.shape[1])) // 2
    shape = (padding, width, image.shape[2]) if axis == 0 else (height, padding, image.shape[2])
    noise = rng.integers(0, 255, size=shape, dtype=np.uint8)  # DIGITS: randint(0, 255), both sides alike
    return np.concatenate((noise, image, noise), axis=axis)


def _round(value: float) -> int:
    """Round half away from zero (Python 2's `round`, which DIGITS' size arithmetic relied on)."""
    return math.floor(value + 0.5)


def _check_header(picture: Image.Image, max_pixels: int) -> None:
    width, height = picture.size
    if width * height > max_pixels:
        raise ImageProblem(f"image of {width}x{height} pixels is over the {max_pixels}-pixel limit")


def _flatten(picture: Image.Image) -> Image.Image:
    """Composite transparency onto white, as DIGITS does, so transparent pixels do not turn black."""
    if picture.mode in ("LA", "La") or (picture.mode == "L" and "transparency" in picture.info):
        background = Image.new("L", picture.size, 255)
        background.paste(picture.convert("L"), mask=picture.convert("RGBA"))
        return background
    if picture.mode in ("P", "PA", "RGBA", "RGBa") or "transparency" in picture.info:
        background = Image.new("RGB", picture.size, (255, 255, 255))
        background.paste(picture.convert("RGB"), mask=picture.convert("RGBA"))
        return background
    return picture


def _to_array(picture: Image.Image, color: ColorMode) -> HWC:
    converted = picture.convert("L" if color is ColorMode.GRAY else "RGB")
    pixels = np.asarray(converted, dtype=np.uint8)
    return pixels[:, :, np.newaxis] if color is ColorMode.GRAY else pixels


def _describe(error: BaseException) -> str:
    if isinstance(error, UnidentifiedImageError):
        return NOT_AN_IMAGE
    return str(error) or type(error).__name__
