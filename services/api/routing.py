"""The API's route table: every route declares itself once, and the router and the spec both come from it.

A route module builds a `RouteTable` and decorates its handlers with what the route is: method,
path, summary, who may call it (`auth`), the pydantic models of its JSON request body, query and
success response, and its status. `mount` adds the handlers to the aiohttp router and keeps the
declarations in `app[ROUTES]`; `services.api.openapi` builds OpenAPI 3.1 from the same
declarations. A route that is served but not declared cannot happen: the router is filled from the
table only, and a test checks that the app serves exactly the routes of the spec.

Handlers validate with the declared models through `read_body` / `read_query` and answer with
`reply`, so the model that the spec shows is the model that checks the request.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.api.problems import ApiProblem
from services.api.validation import parse_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["public", "tenant", "owner", "admin"]
"""public: no token; tenant: any principal of a tenant (or the admin); owner: a tenant's owner or the
admin; admin: the deployment administrator only."""

M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", bound=Handler)

ROUTES = web.AppKey("routes", tuple)  # tuple[Route, ...]: what `mount` added, for the spec builder
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Route:
    """One operation: what it takes, what it answers, who may call it."""

    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth
    tag: str
    body: type[BaseModel] | None = None  # JSON request body
    query: type[BaseModel] | None = None  # query parameters, one field each
    response: Any = None  # JSON success body: a model or any type pydantic can describe (list[Model])
    status: int = 200
    # other success answers besides `status`: (status, JSON model, when it is given), e.g. a 202 when
    # the work is queued instead of done at once
    also: tuple[tuple[int, Any, str], ...] = ()
    media: str | None = None  # a non-JSON success body: text/plain, text/event-stream, application/octet-stream
    raw_body: tuple[str, ...] = ()  # media types accepted as a raw (streamed) request body
    errors: tuple[int, ...] = ()  # problem+json statuses besides the ones every route of its `auth` has
    description: str = ""

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass
class RouteTable:
    """The routes of one resource module, in declaration order."""

    tag: str
    routes: list[Route] = field(default_factory=list)

    def route(self, method: str, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        def register(handler: H) -> H:
            description = inspect.cleandoc(handler.__doc__ or "")
            self.routes.append(Route(method.upper(), path, handler, summary, auth, self.tag,
                                     description=meta.pop("description", description), **meta))
            return handler

        return register

    def get(self, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        return self.route("GET", path, summary=summary, auth=auth, **meta)

    def post(self, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        return self.route("POST", path, summary=summary, auth=auth, **meta)

    def patch(self, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        return self.route("PATCH", path, summary=summary, auth=auth, **meta)

    def put(self, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        return self.route("PUT", path, summary=summary, auth=auth, **meta)

    def delete(self, path: str, *, summary: str, auth: Auth, **meta: Any) -> Callable[[H], H]:
        return self.route("DELETE", path, summary=summary, auth=auth, **meta)


def mount(app: web.Application, tables: Iterable[RouteTable]) -> None:
    """Add every declared route to the router (HEAD follows GET, as aiohttp does) and record them."""
    declared: list[Route] = []
    for table in tables:
        for route in table.routes:
            app.router.add_route(route.method, route.path, route.handler)
            declared.append(route)
    app[ROUTES] = tuple(declared)


def routes_of(app: web.Application) -> tuple[Route, ...]:
    found: tuple[Route, ...] = app[ROUTES]
    return found


# --- validation with the declared models ------------------------------------------------------


async def read_body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated by `model`: 415 if it is not JSON, 400 if malformed, 422 if invalid."""
    return await parse_body(request, model)


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated by `model` (422 naming the bad parameters)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as e:
        errors = [{"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"]} for item in e.errors()]
        names = ", ".join(sorted({error["field"] for error in errors}))
        raise ApiProblem(422, f"invalid query parameters: {names}", title="Unprocessable Content",
                         errors=errors) from None


def reply(value: BaseModel | list[Any] | Mapping[str, Any], *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response serialised the way the response model says (aliases, datetimes as ISO 8601)."""
    if isinstance(value, BaseModel):
        text = value.model_dump_json(by_alias=True)
    else:
        text = json.dumps(_jsonable(value))
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
