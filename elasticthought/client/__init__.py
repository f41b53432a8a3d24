"""The ElasticThought SDK: `Client` (blocking) and `AsyncClient` (asyncio), one method per API operation.

    from elasticthought.client import Client, ImageSpec

    with Client("http://127.0.0.1:8080", token) as et:
        upload = et.upload_datafile("digits.tar.gz", progress=lambda sent, total: ...)
        datafile = et.wait_for_datafile(upload.id)
        dataset = et.create_dataset(datafile.id, ImageSpec(width=28, height=28, color="gray"))
        ...

Errors are `ElasticThoughtError`s: `ApiError` subclasses (`NotFound`, `Invalid`, ...) carry the
server's problem details; `ConnectionFailed` and `WaitTimeout` say what they are.
"""

from elasticthought.client.aio import AsyncClient
from elasticthought.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    ElasticThoughtError,
    Forbidden,
    Invalid,
    JobEnded,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    UnexpectedAnswer,
    UnsupportedMedia,
    WaitTimeout,
)
from elasticthought.client.models.data import ImageSpec
from elasticthought.client.sync import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "ElasticThoughtError",
    "Forbidden",
    "ImageSpec",
    "Invalid",
    "JobEnded",
    "NotFound",
    "ServerError",
    "TooLarge",
    "Unauthorized",
    "UnexpectedAnswer",
    "UnsupportedMedia",
    "WaitTimeout",
]
