"""Every operation of the API's OpenAPI document has an SDK method, and the SDK's models have every field.

A route added to the server without an SDK method, or a field added to an answer that the SDK's
model does not declare, fails here (the SDK keeps unknown fields at run time, but typed access
and the CLI's output need them declared).
"""

from __future__ import annotations

from elasticthought.client.api import Api
from elasticthought.client.operation import Operation, covered_operations
from tests.unit.client.spec import (
    json_response_schema,
    missing_fields,
    operations,
    result_model,
    sdk_operations,
    server_spec,
)

# methods whose result is another success answer of the operation they cover than its first
OTHER_ANSWERS = {"submit_classify_job": "202"}  # classify_images?async=true queues a classify job


def test_every_operation_of_the_spec_has_an_sdk_method() -> None:
    spec = server_spec()
    covered = covered_operations(Api)
    uncovered = sorted(op_id for op_id, _ in operations(spec) if op_id not in covered)
    assert uncovered == [], f"operations without an SDK method (add one to elasticthought/client/api.py): {uncovered}"


def test_every_sdk_method_names_operations_that_exist() -> None:
    known = {op_id for op_id, _ in operations(server_spec())}
    stale = {name: op_id for op_id, name in covered_operations(Api).items() if op_id not in known}
    assert stale == {}


def test_sdk_result_models_declare_every_field_of_the_response_schemas() -> None:
    spec = server_spec()
    by_id = dict(operations(spec))
    checked, missing = 0, []
    for name, method in sdk_operations().items():
        if not isinstance(method, Operation):
            continue
        model = result_model(method)
        for op_id in method.covers:
            schema = json_response_schema(spec, by_id[op_id], OTHER_ANSWERS.get(name))
            if model is None or schema is None:
                continue
            wrapped = list(schema.get("properties", {}).items())
            if len(wrapped) == 1 and wrapped[0][1].get("type") == "array" and wrapped[0][0] not in model.model_fields:
                schema = wrapped[0][1]["items"]  # `{"items": [...]}` and the like: the SDK returns the list
            missing += missing_fields(spec, schema, model, f"{name} -> {model.__name__}")
            checked += 1
    assert checked >= 30
    assert missing == []
