"""Server-sent events (`GET /v1/events`) decoded line by line, remembering where to resume.

The format is the WHATWG one the API writes: `id:`, `event:`, `data:` and `retry:` fields, a
blank line ends an event, lines starting with `:` are comments (keep-alives). The last `id` seen
is what a reconnect sends as `Last-Event-ID`; the server then sends exactly the events after it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from elasticthought.client.models.events import ServerEvent

DEFAULT_RETRY_S = 1.0


class SseDecoder:
    def __init__(self, last_event_id: int | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry_s = DEFAULT_RETRY_S
        self._fields: dict[str, str] = {}
        self._data: list[str] = []

    def feed(self, line: str) -> list[ServerEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "retry" and value.isdigit():
            self.retry_s = int(value) / 1000
        elif name in ("id", "event"):
            self._fields[name] = value
        return []

    def resume_headers(self) -> Mapping[str, str]:
        return {} if self.last_event_id is None else {"Last-Event-ID": str(self.last_event_id)}

    def retry_delay_s(self) -> float:
        return self.retry_s

    def _dispatch(self) -> list[ServerEvent]:
        fields, data = self._fields, self._data
        self._fields, self._data = {}, []
        if not data:
            return []
        event_id = int(fields["id"]) if fields.get("id", "").isdigit() else None
        if event_id is not None:
            self.last_event_id = event_id
        payload: Any = json.loads("\n".join(data))
        envelope = payload if isinstance(payload, dict) else {"data": payload}
        return [ServerEvent(id=event_id, type=fields.get("event") or str(envelope.get("type", "message")),
                            envelope=envelope)]
