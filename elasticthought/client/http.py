"""What both transports do the same with httpx: build a request from a `Call`, read its answer, map errors.

httpx gives a blocking and an asyncio client with one API, so the only code that differs between
`Client` and `AsyncClient` is how bytes move (iterating vs. async iterating, sleeping vs. awaiting).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from elasticthought.client.calls import Call, Reply
from elasticthought.client.errors import ApiError, ConnectionFailed, error_for

DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
USER_AGENT = "elasticthought-client/1"


def base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the server URL must start with http:// or https://, not {url!r}")
    return url


def default_headers(token: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json;q=0.9, */*;q=0.5"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def timeout(seconds: float | None, *, streaming: bool = False) -> httpx.Timeout:
    """`seconds` for each network step; a live stream waits for its next line without limit."""
    return httpx.Timeout(seconds, connect=CONNECT_TIMEOUT_S, read=None if streaming else seconds)


def request_kwargs(call: Call, files: ExitStack) -> dict[str, Any]:
    """Keyword arguments of `build_request` for everything but a streamed upload body."""
    kwargs: dict[str, Any] = {"method": call.method, "url": call.path, "headers": dict(call.headers)}
    if call.params:
        kwargs["params"] = dict(call.params)
    if call.json is not None:
        kwargs["json"] = call.json
    if call.files:
        kwargs["files"] = [(part.field, (part.path.name, files.enter_context(part.path.open("rb")), part.content_type))
                           for part in call.files]
    return kwargs


def decode(call: Call, response: httpx.Response) -> Any:
    """The answer's body as the call expects it; error bodies as problem JSON when they are JSON."""
    content = response.content
    if response.status_code >= 400 or call.expect == "json":
        if not content:
            return None
        if _is_json(response.headers):
            try:
                return json.loads(content)
            except ValueError:
                return response.text
        return response.text
    if call.expect == "text":
        return response.text
    return None


def reply_of(response: httpx.Response, body: Any) -> Reply:
    return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)


def is_error(call: Call, response: httpx.Response) -> bool:
    return response.status_code >= 400 and response.status_code not in call.ok


def api_error(call: Call, response: httpx.Response) -> ApiError:
    """The exception for an error answer whose body has been read."""
    return error_for(response.status_code, decode(call, response), method=call.method, url=str(response.url))


def connection_failed(url: str, error: httpx.TransportError) -> ConnectionFailed:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        reason = f"timed out ({reason})"
    return ConnectionFailed(url, reason)


def partial_path(target: Path) -> Path:
    """Where a download is written until complete, beside its target so the final rename is atomic."""
    return target.with_name(f".{target.name}.part")


def content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _is_json(headers: Mapping[str, str]) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")
