"""Turn the bytes of an image into exactly the array the net saw in training.

A classifier is only as good as its input matches the training input, so every step is the
dataset builder's own code (`services.storage.images`, `split_writer.caffe_chw`): the same
decoder and flattening of transparency, conversion to gray or RGB, DIGITS resize mode and BGR
channel order. Then what Caffe's DataTransformer does at TEST: centre crop, mean subtraction (the
dataset's mean image, cropped alike, or per-channel `mean_value`s), times `scale`. Mirroring is
left out: Caffe mirrors at random even at TEST, which no classifier wants.

The noise that `fill` and `half_crop` pad with comes from a generator seeded the same for every
image, so classifying the same bytes twice gives the same answer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.storage.images import DEFAULT_MAX_PIXELS, ColorMode, ImageProblem, ResizeMode, load_image, resize_image
from services.storage.split_writer import caffe_chw

FloatCHW = npt.NDArray[np.float32]
FILL_SEED = 0


class ImageUnusable(Exception):
    """An input that is not a usable image; names it (file name or URL) and says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"image {name!r}: {reason}")
        self.name = name
        self.reason = reason

    def __repr__(self) -> str:
        return f"ImageUnusable(name={self.name!r}, reason={self.reason!r})"


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """The dataset's image spec plus the TEST data layer's transform."""

    height: int
    width: int
    resize_mode: ResizeMode
    color: ColorMode
    scale: float = 1.0
    mean: FloatCHW | None = None  # the dataset's mean image (C, height, width)
    mean_values: tuple[float, ...] = ()
    crop_size: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        channels = self.color.channels
        if self.mean is not None and tuple(self.mean.shape) != (channels, self.height, self.width):
            raise ValueError(f"the mean image is {list(self.mean.shape)}, the images are "
                             f"{[channels, self.height, self.width]}")
        if self.mean_values and len(self.mean_values) not in (1, channels):
            raise ValueError(f"give one mean value or one per channel ({channels}), got {len(self.mean_values)}")
        if self.crop_size > min(self.height, self.width):
            raise ValueError(f"crop_size {self.crop_size} is larger than the {self.height} x {self.width} images")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of what `__call__` returns: the net's input without the batch axis."""
        side = self.crop_size
        return (self.color.channels, side or self.height, side or self.width)

    def pixels(self, data: bytes, name: str) -> npt.NDArray[np.uint8]:
        """Decoded, resized, CHW and BGR: what the dataset builder stores for the same file."""
        try:
            image = load_image(io.BytesIO(data), self.color, max_pixels=self.max_pixels)
        except ImageProblem as problem:
            raise ImageUnusable(name, str(problem)) from None
        noise = np.random.default_rng(FILL_SEED)
        return caffe_chw(resize_image(image, self.height, self.width, self.resize_mode, rng=noise))

    def __call__(self, data: bytes, name: str) -> FloatCHW:
        """The float32 (C, H, W) input the net saw in training for this image."""
        return self.transform(self.pixels(data, name))

    def transform(self, pixels: npt.NDArray[np.uint8]) -> FloatCHW:
        """Caffe's TEST-phase transform of CHW uint8 pixels: crop, subtract the mean, scale."""
        data = pixels.astype(np.float32)
        mean = self.mean
        if self.crop_size:
            top, left = (self.height - self.crop_size) // 2, (self.width - self.crop_size) // 2
            window = (slice(None), slice(top, top + self.crop_size), slice(left, left + self.crop_size))
            data = data[window]
            mean = mean[window] if mean is not None else None
        if mean is not None:
            data = data - mean
        elif self.mean_values:
            data = data - np.asarray(self.mean_values, dtype=np.float32).reshape(-1, 1, 1)
        if self.scale != 1.0:
            data = data * np.float32(self.scale)
        return np.ascontiguousarray(data, dtype=np.float32)
