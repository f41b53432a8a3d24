"""Requests as data: each SDK operation is written once as a plan of steps, run by a sync or async transport.

An operation does not perform I/O. It is a generator (a `Plan`) that yields `Call`s (one HTTP
request each, described completely: method, path, query, JSON or streamed body, how to read the
answer) and `Pause`s (wait before polling again), receives each `Reply`, and returns the typed
result. `Client` runs plans with blocking I/O, `AsyncClient` with asyncio; neither knows any
route. So a wait loop or an error rule is written once and behaves the same in both, and unit
tests can step through a plan without a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from elasticthought.client.errors import UnexpectedAnswer

T = TypeVar("T")

Progress = Callable[[int, int | None], None]
"""Called as bytes move: (bytes so far, total bytes or None when unknown)."""

UploadSource: TypeAlias = str | Path | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]
"""A file path, an open binary file, or chunks (async chunks only with `AsyncClient`)."""

Expect = Literal["json", "text", "empty"]


@dataclass(frozen=True)
class Upload:
    """A request body streamed from `source` in chunks, never read whole; `size` sets Content-Length."""

    source: UploadSource
    size: int | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart body (classify images)."""

    field: str
    path: Path
    content_type: str


@dataclass(frozen=True)
class Call:
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    upload: Upload | None = None
    files: tuple[FilePart, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Expect = "json"
    ok: tuple[int, ...] = ()  # error statuses that are an answer here, not an exception (readyz's 503)
    save_to: Path | None = None  # stream the answer's body into this file (then the Reply has no body)
    progress: Progress | None = None  # for `save_to`: bytes written so far, Content-Length


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next step (between polls)."""

    seconds: float


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: Any  # parsed JSON, text, or None (expect="empty", or saved to a file)


Step: TypeAlias = Call | Pause
Plan: TypeAlias = Generator[Step, object, T]
"""An operation: yields steps, is sent each step's outcome, returns the result."""


def send(call: Call) -> Generator[Step, object, Reply]:
    """`reply = yield from send(call)` inside a plan."""
    answer = yield call
    if not isinstance(answer, Reply):
        raise TypeError(f"the transport answered {call.method} {call.path} with {type(answer).__name__}, not a Reply")
    return answer


def pause(seconds: float) -> Generator[Step, object, None]:
    yield Pause(seconds)


def fetch(call: Call, result: type[T]) -> Plan[T]:
    """Send `call` and validate its JSON answer as `result`."""
    reply = yield from send(call)
    return parse(reply.body, result, call)


def fetch_items(call: Call, item: type[T]) -> Plan[list[T]]:
    """Send `call` and return the `items` of the `{"items": [...]}` it answers."""
    reply = yield from send(call)
    body = reply.body if isinstance(reply.body, dict) else {}
    items = body.get("items")
    if not isinstance(items, list):
        raise UnexpectedAnswer(f"{call.method} {call.path}", "no `items` list")
    return [parse(found, item, call) for found in items]


def nothing(call: Call) -> Plan[None]:
    """Send a call whose answer has no body (204)."""
    yield from send(call)


def text(call: Call) -> Plan[str]:
    reply = yield from send(call)
    return str(reply.body or "")


def parse(body: Any, result: type[T], call: Call) -> T:
    try:
        return TypeAdapter(result).validate_python(body)
    except ValidationError as e:
        raise UnexpectedAnswer(f"{call.method} {call.path}", f"not a {result.__name__}: {e}") from None


def segment(value: str | int) -> str:
    """An id as one path segment: quoted, so an id can never reach another path."""
    return quote(str(value), safe="")


def query(**values: object) -> dict[str, str]:
    """Query parameters without the unset ones; booleans as `true`/`false`, as the API reads them."""
    found: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        found[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return found
