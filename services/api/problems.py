"""Errors as RFC 9457 problem details (`application/problem+json`), for every route.

Clients get one machine-readable error shape whatever went wrong: an unknown route, a wrong
method, a validation error raised by a handler, an event store that is unreachable (503 with
`Retry-After`: the request may well succeed later, and load balancers and clients know to retry),
or a bug (500, without internals in the body; the traceback goes to the log with the request's
correlation id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web

from shared.eventstore import StoreUnavailable

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
STORE_RETRY_AFTER_S = 5  # the Retry-After of a 503 while the event store is unreachable
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiProblem(Exception):
    """Raised by handlers for a 4xx answer: status, a detail for people, extra members for programs."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def __repr__(self) -> str:
        return f"ApiProblem({self.status}, {self.detail!r}, extra={self.extra!r})"

    def response(self) -> web.Response:
        return problem(self.status, self.detail, headers=self.headers, **self.extra)


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """A problem+json response; `extra` adds members (e.g. `failed` checks, `errors`)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn HTTP errors raised anywhere below into problem+json responses."""
    try:
        return await handler(request)
    except ApiProblem as e:
        return e.response()
    except web.HTTPException as e:
        if e.status < 400 or e.content_type == PROBLEM_JSON:
            raise
        return problem(e.status, _detail(e, request), headers=_kept_headers(e))
    except StoreUnavailable as e:  # a backend outage is not a bug: tell clients to come back
        log.warning("request_store_unavailable", method=request.method, path=request.path, error=str(e))
        return problem(503, "the event store is unavailable; try again shortly",
                       headers={"Retry-After": str(STORE_RETRY_AFTER_S)})
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        return problem(500, "the server failed to handle this request")


def _detail(error: web.HTTPException, request: web.Request) -> str:
    if isinstance(error, web.HTTPNotFound):
        return f"no route for {request.path}"
    if isinstance(error, web.HTTPMethodNotAllowed):
        return f"{request.method} is not allowed on {request.path}; allowed: {', '.join(sorted(error.allowed_methods))}"
    return error.text or error.reason


def _kept_headers(error: web.HTTPException) -> dict[str, str]:
    """Headers an error response must keep (e.g. `Allow` on 405)."""
    return {k: v for k, v in error.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
