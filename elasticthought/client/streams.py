"""Long-lived answers read line by line (a followed log, server-sent events), described once for both transports.

A `StreamSpec` is the request plus a decoder: the transport opens the request, feeds the decoder
each line of the body as it arrives and yields what the decoder makes of it. A resumable stream
(SSE) reconnects when the connection breaks, sending what its decoder says to resume from
(`Last-Event-ID`), so no event is lost or repeated across the break.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from elasticthought.client.calls import Call

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decoder(Protocol[T_co]):
    def feed(self, line: str) -> Sequence[T_co]:
        """The items that this line (without its line break) completes."""
        ...

    def resume_headers(self) -> Mapping[str, str]:
        """Headers that make a new request continue after the last item decoded."""
        ...

    def retry_delay_s(self) -> float:
        """How long to wait before reconnecting."""
        ...


@dataclass(frozen=True)
class StreamSpec(Generic[T]):
    call: Call
    decoder: Callable[[], Decoder[T]]
    resumable: bool = False  # reconnect after a broken connection (and after the server closes it)
    max_reconnects: int = 5  # in a row without an item in between


class LineDecoder:
    """Each line is an item: a followed log. Not resumable (the log route has no offset)."""

    def feed(self, line: str) -> list[str]:
        return [line]

    def resume_headers(self) -> Mapping[str, str]:
        return {}

    def retry_delay_s(self) -> float:
        return 0.0
