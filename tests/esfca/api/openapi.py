"""Check responses against the OpenAPI document the project serves."""

import json
from functools import cache

import jsonschema
from django.test import Client


@cache
def document() -> dict:
    response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def _json_schema(node):
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_matches_schema(response, path: str, method: str) -> None:
    """``path`` as the document spells it, e.g. ``/api/v1/firms/{id}/receipts/``."""
    doc = document()
    operation = doc["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method} {path}: status {response.status_code} is not documented"
    schema = documented["content"]["application/json"]["schema"]
    root = {**_json_schema(schema), "components": _json_schema(doc["components"])}
    jsonschema.Draft7Validator(root).validate(response.json())
