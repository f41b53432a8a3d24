"""What the SDK puts on the wire: auth, paths, query strings, JSON bodies, streamed uploads, multipart images."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from elasticthought.client import ImageSpec, NotFound
from elasticthought.client.uploads import CHUNK_BYTES
from tests.unit.client.fakes import TOKEN, FakeApi, job


def accepted(state: str = "pending") -> httpx.Response:
    return httpx.Response(202, json={"id": "df1", "state": state})


class ReadRecorder(io.BytesIO):
    """A file that remembers how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.asked.append(size)
        return super().read(size)


def test_every_call_carries_the_bearer_token() -> None:
    api = FakeApi()
    api.on("GET", "/v1/me", httpx.Response(200, json={"kind": "user", "user_id": "u", "name": "ann",
                                                      "tenant_id": "acme", "role": "owner", "token_id": "t"}))
    with api.client() as client:
        me = client.me()
    assert me.name == "ann" and me.role == "owner"
    assert api.sent[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert api.sent[0].request.headers["User-Agent"].startswith("elasticthought-client/")


def test_an_id_is_quoted_into_one_path_segment_and_cannot_reach_another_route() -> None:
    api = FakeApi()
    with api.client() as client, pytest.raises(NotFound):  # the fake knows no such route
        client.get_training_job("../tenants?x=1")
    assert api.sent[0].request.url.raw_path == b"/v1/training-jobs/..%2Ftenants%3Fx%3D1"


def test_query_parameters_leave_out_unset_values_and_spell_booleans_as_the_api_reads_them() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs", httpx.Response(200, json={"items": [job()]}))
    api.on("GET", "/v1/training-jobs/j1/log", httpx.Response(200, text="a\nb\n"))
    with api.client() as client:
        client.list_training_jobs()
        client.list_training_jobs(state="running")
        assert list(client.follow_training_log("j1")) == ["a", "b"]
    assert [str(s.request.url.query, "ascii") for s in api.sent] == ["", "state=running", "follow=true"]


def test_create_dataset_sends_the_request_the_api_documents() -> None:
    api = FakeApi()
    api.on("POST", "/v1/datasets", httpx.Response(202, json={"id": "ds1", "state": "building"}))
    with api.client() as client:
        created = client.create_dataset("df1", ImageSpec(width=28, height=28, color="gray"), test_fraction=0.25,
                                        seed=7)
    assert created.id == "ds1"
    assert api.sent[0].json == {"datafile_id": "df1", "test_fraction": 0.25, "seed": 7,
                                "image": {"width": 28, "height": 28, "resize_mode": "squash", "color": "gray"}}


def test_an_uploaded_file_goes_in_chunks_with_its_length_name_and_type_and_reports_progress(tmp_path: Path) -> None:
    archive = tmp_path / "digits.tar.gz"
    archive.write_bytes(bytes(range(256)) * 2500)  # 640,000 bytes: three chunks
    api = FakeApi()
    api.on("POST", "/v1/datafiles", accepted())
    seen: list[tuple[int, int | None]] = []
    with api.client() as client:
        created = client.upload_datafile(archive, progress=lambda done, total: seen.append((done, total)))
    assert created.id == "df1"
    request = api.sent[0].request
    assert request.headers["Content-Length"] == "640000" and "Transfer-Encoding" not in request.headers
    assert request.headers["Content-Type"] == "application/gzip"
    assert request.url.params["name"] == "digits.tar.gz"
    assert api.sent[0].body == archive.read_bytes()
    assert seen == [(0, 640_000), (CHUNK_BYTES, 640_000), (2 * CHUNK_BYTES, 640_000), (640_000, 640_000)]


def test_an_open_file_is_never_read_whole() -> None:
    data = b"z" * (3 * CHUNK_BYTES + 5)
    f = ReadRecorder(data)
    api = FakeApi()
    api.on("POST", "/v1/datafiles", accepted())
    with api.client() as client:
        client.upload_datafile(f, name="set.zip")
    assert api.sent[0].body == data and api.sent[0].request.headers["Content-Type"] == "application/zip"
    assert f.asked and all(size == CHUNK_BYTES for size in f.asked)


def test_chunks_of_unknown_size_are_sent_chunked() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 5

    api = FakeApi()
    api.on("POST", "/v1/datafiles", accepted())
    seen: list[tuple[int, int | None]] = []
    with api.client() as client:
        client.upload_datafile(chunks(), progress=lambda done, total: seen.append((done, total)))
    request = api.sent[0].request
    assert request.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in request.headers
    assert request.headers["Content-Type"] == "application/octet-stream" and "name" not in request.url.params
    assert api.sent[0].body == b"a" * 10 + b"b" * 5
    assert seen == [(0, None), (10, None), (15, None)]


def test_the_sync_client_refuses_async_chunks_before_sending_anything() -> None:
    async def chunks() -> object:  # pragma: no cover - never iterated
        yield b"x"

    api = FakeApi()
    with api.client() as client, pytest.raises(TypeError, match="AsyncClient"):
        client.upload_datafile(chunks())  # type: ignore[arg-type]
    assert api.sent == []


def test_classify_sends_files_as_multipart_images_and_urls_as_json(tmp_path: Path) -> None:
    first, second = tmp_path / "one.png", tmp_path / "two.jpg"
    first.write_bytes(b"\x89PNG-one")
    second.write_bytes(b"\xff\xd8-two")
    api = FakeApi()
    api.on("POST", "/v1/classifiers/k1/classify", httpx.Response(200, json={"results": [
        {"name": "one.png", "predictions": [{"label": "cat", "probability": 0.9}], "error": None}]}))
    with api.client() as client:
        results = client.classify("k1", [first, second], top_k=1)
        client.classify("k1", urls=["https://images.example/a.png"])
        with pytest.raises(ValueError, match="not both"):
            client.classify("k1", [first], urls=["https://images.example/a.png"])
    assert results[0].predictions[0].label == "cat"
    multipart, urls = api.sent
    assert multipart.request.url.params["top_k"] == "1" and "async" not in multipart.request.url.params
    assert multipart.request.headers["Content-Type"].startswith("multipart/form-data")
    assert multipart.body.count(b'name="images"') == 2
    assert b'filename="one.png"' in multipart.body and b"Content-Type: image/jpeg" in multipart.body
    assert urls.json == {"urls": ["https://images.example/a.png"]}


def test_a_classify_job_is_asked_for_with_async_true(tmp_path: Path) -> None:
    image = tmp_path / "one.png"
    image.write_bytes(b"png")
    api = FakeApi()
    api.on("POST", "/v1/classifiers/k1/classify", httpx.Response(202, json={"id": "c1", "state": "queued"}))
    with api.client() as client:
        accepted_job = client.submit_classify_job("k1", [image], top_k=3)
    assert accepted_job.id == "c1"
    assert dict(api.sent[0].request.url.params) == {"top_k": "3", "async": "true"}
