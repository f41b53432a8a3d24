"""A quick look at each image of a classify job before it is queued: is it an image at all?

Only the header is read (format, size), not the pixels: a job of a thousand images is checked in
milliseconds, and a request that sent a text file or a PDF by mistake is refused at once with a
422 naming it, with nothing created. An image whose header is fine but whose data is broken
(truncated) is found by the worker's full decode and reported in that image's result entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from services.api.classify.staging import StagedImage
from services.storage.images import ACCEPTED_FORMATS, DECODE_ERRORS, NOT_AN_IMAGE


def first_non_image(images: Sequence[StagedImage]) -> tuple[str, str] | None:
    """(name, why) of the first input that is not an image by its header; blocking (run in a thread)."""
    for image in images:
        image.file.seek(0)
        try:
            with Image.open(image.file, formats=ACCEPTED_FORMATS) as picture:
                width, height = picture.size
        except DECODE_ERRORS:
            return image.name, NOT_AN_IMAGE
        if width < 1 or height < 1:
            return image.name, f"an image of {width} x {height} pixels"
    return None
