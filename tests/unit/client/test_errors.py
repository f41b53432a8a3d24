"""Error answers become exceptions of one hierarchy that keep the problem details; other failures say what they are."""

from __future__ import annotations

import httpx
import pytest

from elasticthought.client import (
    ApiError,
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    ElasticThoughtError,
    Forbidden,
    Invalid,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    UnexpectedAnswer,
    UnsupportedMedia,
)
from elasticthought.client.errors import error_for
from tests.unit.client.fakes import TOKEN, URL, FakeApi, job, problem


@pytest.mark.parametrize(("status", "kind"), [
    (400, BadRequest), (401, Unauthorized), (403, Forbidden), (404, NotFound), (409, Conflict), (413, TooLarge),
    (415, UnsupportedMedia), (422, Invalid), (500, ServerError), (503, ServerError), (429, ApiError),
])
def test_each_status_has_its_class_under_one_base(status: int, kind: type[ApiError]) -> None:
    error = error_for(status, {"title": "t", "status": status, "detail": "d"})
    assert type(error) is kind and isinstance(error, ElasticThoughtError)
    assert error.status == status and error.detail == "d"


def test_a_422_keeps_every_member_of_the_problem_and_shows_them_in_its_repr() -> None:
    api = FakeApi()
    api.on("POST", "/v1/solvers", problem(422, "solver_prototxt:3:7: Expected identifier", field="solver_prototxt",
                                          line=3, column=7, errors=[{"field": "name", "message": "too long"}]))
    with api.client() as client, pytest.raises(Invalid) as caught:
        client.create_solver("bad", "net")
    error = caught.value
    assert (error.status, error.title, error.type) == (422, "Problem", "about:blank")
    assert error.detail == "solver_prototxt:3:7: Expected identifier"
    assert error.extra == {"field": "solver_prototxt", "line": 3, "column": 7}
    assert error.errors == [{"field": "name", "message": "too long"}]
    assert error.field_errors() == ["name: too long"]
    assert str(error) == "422 Problem: solver_prototxt:3:7: Expected identifier"
    shown = repr(error)
    assert shown.startswith("Invalid(status=422") and "'line': 3" in shown and f"POST {URL}/v1/solvers" in shown


def test_an_error_without_a_problem_body_keeps_its_text_as_detail() -> None:
    api = FakeApi()
    api.on("GET", "/v1/datafiles", httpx.Response(502, text="<html>bad gateway</html>",
                                                  headers={"Content-Type": "text/html"}))
    with api.client() as client, pytest.raises(ServerError) as caught:
        client.list_datafiles()
    assert caught.value.detail == "<html>bad gateway</html>" and caught.value.title == "Bad Gateway"


def test_an_unreachable_server_is_connection_failed_naming_it() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ConnectionFailed) as caught, Client(URL, TOKEN, transport=httpx.MockTransport(refuse)) as client:
        client.healthz()
    assert caught.value.url == URL and "connection refused" in caught.value.reason
    assert repr(caught.value) == f"ConnectionFailed(url='{URL}', reason='connection refused')"


def test_readiness_503_is_an_answer_naming_what_failed() -> None:
    api = FakeApi()
    api.on("GET", "/readyz", problem(503, "not ready: bus did not answer", failed=["bus"],
                                     checks={"store": "ok", "bus": "timed out", "blobs": "ok"}))
    with api.client() as client:
        ready = client.readyz()
    assert not ready.ready and ready.failed == ["bus"] and ready.checks["bus"] == "timed out"


def test_an_answer_of_the_wrong_shape_is_unexpected_answer() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json={"nothing": "here"}))
    with api.client() as client, pytest.raises(UnexpectedAnswer, match="GET /v1/training-jobs/j1"):
        client.get_training_job("j1")


def test_fields_a_newer_server_adds_are_kept_not_refused() -> None:
    api = FakeApi()
    api.on("GET", "/v1/training-jobs/j1", httpx.Response(200, json=job(state="running", new_field=[1, 2])))
    with api.client() as client:
        found = client.get_training_job("j1")
    assert found.state == "running" and found.model_extra == {"new_field": [1, 2]}
