"""What the SDK raises: one base, a class per kind of failure, each carrying the server's problem details.

The API answers every error as RFC 9457 problem+json (`type`, `title`, `status`, `detail`, and
members such as `errors` for invalid fields or `line`/`column` for a prototxt). `ApiError` keeps
all of it, so a caller can branch on the class (`NotFound`, `Invalid`, ...) and still show the
server's own words. Failures that never got an HTTP answer are `ConnectionFailed`; a wait that ran
out of time is `WaitTimeout`.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


class ElasticThoughtError(Exception):
    """The base of everything the SDK raises on purpose."""


class ConnectionFailed(ElasticThoughtError):
    """The server could not be reached, or the connection broke before an answer."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason

    def __repr__(self) -> str:
        return f"ConnectionFailed(url={self.url!r}, reason={self.reason!r})"


class WaitTimeout(ElasticThoughtError):
    """A `wait_for_*` gave up before the resource reached an end state."""

    def __init__(self, resource: str, resource_id: str, state: str, timeout_s: float) -> None:
        super().__init__(f"{resource} {resource_id} is still {state} after {timeout_s:g}s")
        self.resource = resource
        self.resource_id = resource_id
        self.state = state
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return (f"WaitTimeout(resource={self.resource!r}, resource_id={self.resource_id!r}, state={self.state!r}, "
                f"timeout_s={self.timeout_s!r})")


class UnexpectedAnswer(ElasticThoughtError):
    """The server answered something this SDK cannot read (not the shape the API documents)."""

    def __init__(self, request: str, problem: str) -> None:
        super().__init__(f"{request}: unexpected answer: {problem}")
        self.request = request
        self.problem = problem

    def __repr__(self) -> str:
        return f"UnexpectedAnswer(request={self.request!r}, problem={self.problem!r})"


class JobEnded(ElasticThoughtError):
    """A job the SDK waited on to deliver a result ended without one (failed or cancelled)."""

    def __init__(self, resource: str, resource_id: str, state: str, error: str | None) -> None:
        super().__init__(f"{resource} {resource_id} {state}" + (f": {error}" if error else ""))
        self.resource = resource
        self.resource_id = resource_id
        self.state = state
        self.error = error

    def __repr__(self) -> str:
        return (f"JobEnded(resource={self.resource!r}, resource_id={self.resource_id!r}, state={self.state!r}, "
                f"error={self.error!r})")


class ApiError(ElasticThoughtError):
    """An HTTP error answer: the status and the problem details the server sent."""

    def __init__(self, status: int, *, title: str | None = None, detail: str | None = None,
                 type: str = "about:blank", errors: list[dict[str, Any]] | None = None,
                 extra: Mapping[str, Any] | None = None, method: str = "", url: str = "") -> None:
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.type = type
        self.errors = list(errors or [])
        self.extra = dict(extra or {})
        self.method = method
        self.url = url
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line for people: `404 Not Found: no training job x`."""
        text = f"{self.status} {self.title}"
        return f"{text}: {self.detail}" if self.detail else text

    def field_errors(self) -> list[str]:
        """`field: message` for each invalid field a 422 named."""
        return [f"{e.get('field', '?')}: {e.get('message', '')}" for e in self.errors]

    def __repr__(self) -> str:
        parts = [f"status={self.status}", f"title={self.title!r}", f"detail={self.detail!r}"]
        if self.type != "about:blank":
            parts.append(f"type={self.type!r}")
        if self.errors:
            parts.append(f"errors={self.errors!r}")
        if self.extra:
            parts.append(f"extra={self.extra!r}")
        if self.method:
            parts.append(f"request='{self.method} {self.url}'")
        return f"{type(self).__name__}({', '.join(parts)})"


class BadRequest(ApiError):
    """400: a malformed request (bad JSON, an empty upload, a bad header)."""


class Unauthorized(ApiError):
    """401: no token, or one the server does not accept (unknown, malformed, revoked)."""


class Forbidden(ApiError):
    """403: the token is valid but its role may not do this."""


class NotFound(ApiError):
    """404: no such resource for this tenant (another tenant's ids answer 404 too)."""


class Conflict(ApiError):
    """409: the resource's state does not allow it (e.g. cancelling a job that ended)."""


class TooLarge(ApiError):
    """413: the body is over the server's limit (`extra["limit"]` in bytes)."""


class UnsupportedMedia(ApiError):
    """415: the body's media type is not one the route takes."""


class Invalid(ApiError):
    """422: the input does not validate; `errors` names the fields (a prototxt error names line and column)."""


class ServerError(ApiError):
    """5xx: the server failed or is not ready; trying again later may work."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: TooLarge,
    415: UnsupportedMedia, 422: Invalid,
}
_KNOWN_MEMBERS = ("type", "title", "status", "detail", "errors")


def error_for(status: int, body: Any, *, method: str = "", url: str = "") -> ApiError:
    """The exception for an error answer; `body` is the parsed problem+json (or text, or None)."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    if not isinstance(body, Mapping):
        detail = body.strip()[:500] if isinstance(body, str) and body.strip() else None
        return cls(status, detail=detail, method=method, url=url)
    errors = body.get("errors")
    return cls(status, title=_text(body.get("title")), detail=_text(body.get("detail")),
               type=_text(body.get("type")) or "about:blank",
               errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else None,
               extra={k: v for k, v in body.items() if k not in _KNOWN_MEMBERS}, method=method, url=url)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
