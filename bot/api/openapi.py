"""``/api/v1/openapi.json``: the OpenAPI 3.1 description, generated from the routes'
declarations and the very pydantic models their handlers validate and answer with."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..cases.model import Case
from .framework import PROBLEM, TITLES, Endpoint
from .models import REFERENCE, Problem

PATH_PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "reference": {"type": "string", "pattern": REFERENCE, "description": "the case's reference, e.g. VR-7K3M9Q"},
    "booking_id": {"type": "integer", "minimum": 1},
}
REF = "#/components/schemas/{model}"


def openapi_path(path: str) -> str:
    """``/bookings/{booking_id:[0-9]+}/cancel`` → ``/bookings/{booking_id}/cancel``."""
    return PATH_PARAMETER.sub(lambda m: "{" + m[1] + "}", path)


def describe(endpoints: Sequence[Endpoint], version: str = "1.0.0") -> dict[str, Any]:
    pairs: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization"), (Case, "serialization")]
    for e in endpoints:
        if e.body is not None:
            pairs.append((e.body, "validation"))
        if e.query is not None:
            pairs.append((e.query, "validation"))
        if isinstance(e.response, type) and issubclass(e.response, BaseModel):
            pairs.append((e.response, "serialization"))
    keys, defs = models_json_schema(list(dict.fromkeys(pairs)), ref_template=REF)
    schemas = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        operation: dict[str, Any] = {
            "operationId": e.handler_name,
            "summary": e.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, {"type": "string"})}
                for name in PATH_PARAMETER.findall(e.path)
            ],
            "responses": {},
        }
        if e.query is not None:
            operation["parameters"] += _query_parameters(schemas, keys[(e.query, "validation")])
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(e.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if e.content:
            ok["content"] = {media: {"schema": schema} for media, schema in e.content.items()}
        elif isinstance(e.response, type) and issubclass(e.response, BaseModel):
            ok["content"] = {"application/json": {"schema": keys[(e.response, "serialization")]}}
        else:
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(e.status)] = ok
        codes = set(e.errors) | ({401, 403} if e.permission != "public" else set())
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": TITLES.get(code, "Error"),
                "content": {PROBLEM: {"schema": keys[(Problem, "serialization")]}},
            }
        if e.permission == "public":
            operation["security"] = []
        else:
            operation["x-permission"] = e.permission
        paths.setdefault(openapi_path(e.path), {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Intake staff API",
            "version": version,
            "description": "Cases, slots and bookings for the systems of the organisations that handle them. "
            "A token acts as a staff member of its role and organisation: it sees and changes what they would.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _query_parameters(schemas: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    model = schemas[ref["$ref"].rsplit("/", 1)[1]]
    required = set(model.get("required", ()))
    parameters = []
    for name, schema in model.get("properties", {}).items():
        schema = dict(schema)
        description = schema.pop("description", None)
        schema.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
