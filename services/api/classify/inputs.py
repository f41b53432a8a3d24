"""The images of a classify request: multipart uploads, or URLs fetched the SSRF-safe way.

Both forms end as `StagedImages`, in the order the user sent them, named by file name or URL.
Limits hold while bytes arrive, never after: at most `max_images` images and `max_image_bytes`
per image (an upload that crosses either is refused at that point, 413), every image non-empty.
URLs go through the datafile fetcher (`services.storage.http_fetch`): every address checked
before connecting (no private or loopback targets unless `allow_private_urls`), redirects
checked hop by hop, the size counted as it streams, a time limit per URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, replace

from aiohttp import BodyPartReader, web

from services.api.classify.staging import CHUNK_BYTES, StagedImage, StagedImages
from services.api.problems import ApiProblem
from services.storage.errors import DatafileRejected
from services.storage.fetch_policy import FetchPolicy
from services.storage.http_fetch import fetch_http
from shared.settings import Settings

IMAGE_FIELDS = ("image", "images")
PART_OVERHEAD = 64 * 1024  # multipart headers and boundaries, per image, in the Content-Length check
FETCHES_AT_ONCE = 4


@dataclass(frozen=True)
class InputLimits:
    max_images: int
    max_image_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(max_images=settings.classify_job_max_images, max_image_bytes=settings.classify_max_image_bytes)


async def read_uploads(request: web.Request, limits: InputLimits) -> StagedImages:
    """The multipart parts `image` / `images` (any number of each), streamed into staging."""
    declared = request.content_length
    if declared is not None and declared > limits.max_images * (limits.max_image_bytes + PART_OVERHEAD):
        raise _too_large(f"the request is {declared} bytes: more than {limits.max_images} images of at most "
                         f"{limits.max_image_bytes} bytes each")
    staged = StagedImages()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name not in IMAGE_FIELDS:
                shown = part.name if isinstance(part, BodyPartReader) else "a nested multipart"
                raise ApiProblem(422, f"unexpected multipart field {shown!r}: send images in fields named 'image' "
                                      "or 'images'")
            if len(staged) >= limits.max_images:
                raise _too_large(f"more than {limits.max_images} images in one request")
            await _read_part(part, staged.add(part.filename or f"image-{len(staged) + 1}"), limits)
        _check_some(staged, "send them as multipart/form-data fields named 'image' or 'images'")
    except BaseException:
        staged.close()
        raise
    return staged


async def _read_part(part: BodyPartReader, image: StagedImage, limits: InputLimits) -> None:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        if image.size + len(chunk) > limits.max_image_bytes:
            raise _too_large(f"image {image.name!r} is larger than the limit of {limits.max_image_bytes} bytes",
                             image=image.name)
        image.write(chunk)
    if image.size == 0:
        raise ApiProblem(422, f"image {image.name!r} is empty (0 bytes)", image=image.name)


async def fetch_urls(urls: Sequence[str], settings: Settings, limits: InputLimits) -> StagedImages:
    """Fetch every URL (a few at a time) into staging; the first failure refuses the request (422)."""
    if len(urls) > limits.max_images:
        raise _too_large(f"more than {limits.max_images} images in one request")
    policy = replace(FetchPolicy.from_settings(settings), max_bytes=limits.max_image_bytes,
                     timeout_s=settings.classify_url_timeout_s,
                     connect_timeout_s=min(settings.url_connect_timeout_s, settings.classify_url_timeout_s))
    staged = StagedImages()
    slots = asyncio.Semaphore(FETCHES_AT_ONCE)

    async def fetch(url: str, image: StagedImage) -> None:
        async def sink(chunks: AsyncIterable[bytes]) -> None:
            async for chunk in chunks:
                image.write(chunk)

        async with slots:
            try:
                await fetch_http(url, policy, sink)
            except DatafileRejected as e:
                raise ApiProblem(422, f"image {url!r} cannot be fetched: {e}", image=url) from None
        if image.size == 0:
            raise ApiProblem(422, f"image {url!r} is empty (0 bytes)", image=url)

    try:
        async with asyncio.TaskGroup() as group:
            for url in urls:
                group.create_task(fetch(url, staged.add(url)))
        _check_some(staged, "give at least one URL")
    except BaseExceptionGroup as group_error:
        staged.close()
        raise _first_problem(group_error) from None
    except BaseException:
        staged.close()
        raise
    return staged


def _first_problem(error: BaseExceptionGroup[BaseException]) -> BaseException:
    """The user's error when there is one (which URL failed), else what went wrong."""
    problems = error.subgroup(ApiProblem)
    found = problems.exceptions[0] if problems is not None else error.exceptions[0]
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found


def _check_some(staged: StagedImages, hint: str) -> None:
    if not staged:
        raise ApiProblem(422, f"no images: {hint}")


def _too_large(detail: str, **extra: str) -> ApiProblem:
    return ApiProblem(413, detail, headers={"Connection": "close"}, **extra)
