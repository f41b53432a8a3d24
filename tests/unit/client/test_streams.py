"""Live answers: server-sent events decoded and resumed after a break without loss or repeats; a followed log."""

from __future__ import annotations

import httpx
import pytest

from elasticthought.client import ConnectionFailed
from elasticthought.client.sse import SseDecoder
from tests.unit.client.fakes import BrokenStream, FakeApi, sse


def feed(decoder: SseDecoder, text: str) -> list[tuple[int | None, str, dict[str, object]]]:
    found = []
    for line in text.split("\n"):
        found += [(e.id, e.type, e.data) for e in decoder.feed(line)]
    return found


def test_the_decoder_reads_ids_types_data_and_retry_and_skips_comments() -> None:
    decoder = SseDecoder()
    text = ('retry: 2500\n\n: keep-alive\n\nid: 7\nevent: TokenIssued\ndata: {"type": "TokenIssued", '
            '"data": {"name": "ci"}}\n\nid: 8\nevent: X\ndata: {"type": "X",\ndata:  "data": {}}\n\n')
    assert feed(decoder, text) == [(7, "TokenIssued", {"name": "ci"}), (8, "X", {})]
    assert decoder.retry_delay_s() == 2.5
    assert decoder.resume_headers() == {"Last-Event-ID": "8"}


def test_an_event_is_only_complete_at_its_blank_line() -> None:
    decoder = SseDecoder(last_event_id=3)
    assert decoder.resume_headers() == {"Last-Event-ID": "3"}
    assert decoder.feed("id: 4") == [] and decoder.feed('data: {"type": "A"}') == []
    [event] = decoder.feed("")
    assert (event.id, event.type) == (4, "A")


def test_events_resume_after_a_broken_connection_from_the_last_event_seen() -> None:
    api = FakeApi()
    first = sse((1, "UserAdded", {}), (2, "TokenIssued", {}))
    api.on("GET", "/v1/events", httpx.Response(200, stream=BrokenStream(first, b"id: 3\nevent: Half")),
           httpx.Response(200, content=sse((3, "DatafileUploaded", {"size": 5}))))
    with api.client() as client:
        events = client.events()
        seen = [next(events) for _ in range(3)]
    assert [(e.id, e.type) for e in seen] == [(1, "UserAdded"), (2, "TokenIssued"), (3, "DatafileUploaded")]
    assert seen[2].data == {"size": 5} and seen[2].stream_id == "job-j1"
    assert "Last-Event-ID" not in api.sent[0].request.headers
    assert api.sent[1].request.headers["Last-Event-ID"] == "2"
    assert api.sleeps == [0.25]  # the server's retry: field


def test_events_start_after_the_id_asked_for() -> None:
    api = FakeApi()
    api.on("GET", "/v1/events", httpx.Response(200, content=sse((10, "A", {}))))
    with api.client() as client:
        assert next(client.events(last_event_id=9)).id == 10
    assert api.sent[0].request.headers["Last-Event-ID"] == "9"


def test_events_give_up_after_repeated_breaks_without_progress() -> None:
    api = FakeApi()
    api.on("GET", "/v1/events", lambda request: httpx.Response(200, stream=BrokenStream(b"retry: 10\n\n")))
    with api.client() as client, pytest.raises(ConnectionFailed):
        next(client.events())
    assert len(api.sent) == 6  # the first try and five reconnects


def test_a_followed_log_yields_lines_until_the_server_ends_it() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/log", httpx.Response(200, text="Iteration 0, loss = 2.3\r\nDone\n"))
    with api.client() as client:
        assert list(client.follow_training_log("j1")) == ["Iteration 0, loss = 2.3", "Done"]
    assert len(api.sent) == 1


def test_a_broken_followed_log_is_an_error_not_a_silent_restart() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1/log", httpx.Response(200, stream=BrokenStream(b"line one\n")))
    with api.client() as client:
        lines = client.follow_training_log("j1")
        assert next(lines) == "line one"
        with pytest.raises(ConnectionFailed):
            next(lines)
    assert len(api.sent) == 1
