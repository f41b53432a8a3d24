"""The API's OpenAPI document as the server builds it, and how SDK methods and models line up with it."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from elasticthought.client.api import Api
from elasticthought.client.operation import Operation, StreamOperation
from services.api.openapi import build_spec
from services.api.routes import ROUTE_MODULES


def server_spec() -> dict[str, Any]:
    """The document `/v1/openapi.json` serves, built from the same route table."""
    return build_spec(route for module in ROUTE_MODULES for route in module.table.routes)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in spec["paths"].values():
        for operation in item.values():
            yield operation["operationId"], operation


def sdk_operations() -> dict[str, Operation[Any, Any] | StreamOperation[Any, Any]]:
    return {name: value for name, value in vars(Api).items() if isinstance(value, Operation | StreamOperation)}


def result_model(operation: Operation[Any, Any]) -> type[BaseModel] | None:
    """The model a method returns (its items' model for a list), from the plan builder's annotation."""
    plan = typing.get_type_hints(operation.build)["return"]
    result = typing.get_args(plan)[2]
    if typing.get_origin(result) is list:
        result = typing.get_args(result)[0]
    return result if isinstance(result, type) and issubclass(result, BaseModel) else None


def json_response_schema(spec: dict[str, Any], operation: dict[str, Any],
                         answer: str | None = None) -> dict[str, Any] | None:
    """The JSON schema of the operation's first success answer, or of the success status `answer`."""
    for status, response in operation["responses"].items():
        if status == answer or (answer is None and status.startswith("2")):
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            return resolve(spec, schema) if schema else None
    return None


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def missing_fields(spec: dict[str, Any], schema: dict[str, Any], model: type[BaseModel], where: str) -> list[str]:
    """Properties of `schema` (recursively, through nested objects and lists) that `model` lacks."""
    schema = resolve(spec, schema)
    missing: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        field = model.model_fields.get(name)
        if field is None:
            missing.append(f"{where}.{name}")
            continue
        nested = _nested_model(field.annotation)
        target = _nested_schema(spec, prop)
        if nested is not None and target is not None:
            missing += missing_fields(spec, target, nested, f"{where}.{name}")
    return missing


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        if typing.get_origin(candidate) is list:
            return _nested_model(typing.get_args(candidate)[0])
    return None


def _nested_schema(spec: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any] | None:
    prop = resolve(spec, prop)
    if "properties" in prop:
        return prop
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return _nested_schema(spec, prop["items"])
    for option in prop.get("anyOf", []):
        found = _nested_schema(spec, option)
        if found is not None:
            return found
    return None
