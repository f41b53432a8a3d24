"""OpenAPI 3.1 built from the route table: the same declarations and pydantic models the router uses.

Every schema comes from pydantic (`TypeAdapter.json_schemas`, JSON Schema 2020-12, which OpenAPI
3.1 adopts unchanged): request bodies and query parameters in validation mode, responses in
serialisation mode. Errors are RFC 9457 problem details; each operation lists the statuses its
declaration implies (401 without a valid token, 403 for owner/admin routes, 404 for an id that is
not the caller's, 415/400/422 for a bad body) plus any the route names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from services.api.problems import PROBLEM_JSON
from services.api.routing import Route
from services.api.schemas.common import Problem, ValidationProblem

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearer"

_ERROR_TEXT = {
    400: "Malformed request", 401: "Missing or invalid token", 403: "Not allowed for this role",
    404: "Not found (or not the caller's)", 409: "Conflicts with the resource's state",
    413: "Body too large", 415: "Unsupported body media type", 422: "Invalid input",
}


def build_spec(routes: Iterable[Route], *, title: str = "ElasticThought API", version: str = "1") -> dict[str, Any]:
    routes = list(routes)
    schemas = _Schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas.defs,
            "securitySchemes": {SECURITY_SCHEME: {"type": "http", "scheme": "bearer",
                                                  "description": "An API token: et_<tenant>_<token id>_<secret>"}},
        },
    }


class _Schemas:
    """All schemas of all routes generated in one pass, so shared models become one component."""

    def __init__(self, routes: list[Route]) -> None:
        inputs: list[tuple[tuple[str, int], JsonSchemaMode, TypeAdapter[Any]]] = []
        for n, route in enumerate(routes):
            slots: tuple[tuple[str, Any, JsonSchemaMode], ...] = (
                ("body", route.body, "validation"), ("query", route.query, "validation"),
                ("response", route.response, "serialization"),
                *((f"also{status}", model, "serialization") for status, model, _ in route.also))
            for slot, model, mode in slots:
                if model is not None:
                    inputs.append(((slot, n), mode, TypeAdapter(model)))
        for n, model in enumerate((Problem, ValidationProblem)):
            inputs.append((("problem", n), "serialization", TypeAdapter(model)))
        keyed, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
        self.by_route: dict[tuple[str, int], dict[str, Any]] = {key: dict(schema) for (key, _), schema in keyed.items()}
        self.defs: dict[str, Any] = dict(defs.get("$defs", {}))
        self.index = {id(route): n for n, route in enumerate(routes)}

    def of(self, slot: str, route: Route) -> dict[str, Any] | None:
        return self.by_route.get((slot, self.index[id(route)]))

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found: dict[str, Any] = self.defs[ref.rsplit("/", 1)[1]]
            return found
        return schema


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id, "summary": route.summary, "tags": [route.tag],
        "security": [] if route.auth == "public" else [{SECURITY_SCHEME: []}],
        "x-auth": route.auth,
    }
    if route.description:
        operation["description"] = route.description
    parameters = _path_parameters(route) + _query_parameters(route, schemas)
    if parameters:
        operation["parameters"] = parameters
    body = _request_body(route, schemas)
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = {**_success(route, schemas), **_errors(route)}
    return operation


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in route.path_params]


def _query_parameters(route: Route, schemas: _Schemas) -> list[dict[str, Any]]:
    schema = schemas.of("query", route)
    if schema is None:
        return []
    schema = schemas.resolve(schema)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop,
         **({"description": prop["description"]} if "description" in prop else {})}
        for name, prop in schema.get("properties", {}).items()
    ]


def _request_body(route: Route, schemas: _Schemas) -> dict[str, Any] | None:
    content: dict[str, Any] = {}
    schema = schemas.of("body", route)
    if schema is not None:
        content["application/json"] = {"schema": schema}
    for media in route.raw_body:
        content[media] = {"schema": {"type": "string", "contentMediaType": media}}
    if not content:
        return None
    return {"required": True, "content": content}


def _success(route: Route, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": route.summary}
    schema = schemas.of("response", route)
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    elif route.media is not None:
        body = {"type": "object"} if route.media.endswith("json") else {"type": "string"}
        response["content"] = {route.media: {"schema": body}}
    answers = {str(route.status): response}
    for status, _, when in route.also:
        answers[str(status)] = {"description": when,
                                "content": {"application/json": {"schema": schemas.of(f"also{status}", route)}}}
    return answers


def _errors(route: Route) -> dict[str, Any]:
    statuses = set(route.errors)
    if route.auth != "public":
        statuses.add(401)
    if route.auth != "public":
        statuses.add(403)  # admin-only or owner-only routes; tenant routes refuse the admin token
    if route.path_params:
        statuses.add(404)
    if route.body is not None:
        statuses.update((400, 415, 422))
    if route.query is not None:
        statuses.add(422)
    return {
        str(status): {"description": _ERROR_TEXT.get(status, "Error"), "content": {PROBLEM_JSON: {"schema": {
            "$ref": f"#/components/schemas/{(ValidationProblem if status == 422 else Problem).__name__}"}}}}
        for status in sorted(statuses)
    }


def model_names(spec: dict[str, Any]) -> set[str]:
    """The component schema names (for tests and tooling)."""
    return set(spec["components"]["schemas"])

