"""Every JSON answer of the API has a schema in the OpenAPI document, and keeps its keys."""

from __future__ import annotations

from typing import Any

from conftest import Api
from shuian.api import create_app


def bare(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether ``schema`` says no more than "some JSON" or "an object" (or a list of those)."""
    if "$ref" in schema:
        return bare(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if schema.get("type") == "array":
        return bare(schema.get("items", {}), components)
    if "anyOf" in schema:
        return all(bare(s, components) for s in schema["anyOf"] if s.get("type") != "null")
    if not schema:
        return True
    if schema.get("type") == "object" and not schema.get("properties"):
        values = schema.get("additionalProperties", True)
        return values is True or (isinstance(values, dict) and bare(values, components))
    return False


def test_every_json_answer_has_a_schema_beyond_a_bare_object() -> None:
    document = create_app("sqlite:///:memory:").openapi()  # not started: only routes are read
    components = document["components"]["schemas"]
    untyped = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and "application/json" in response.get("content", {})
        and bare(response["content"]["application/json"].get("schema", {}), components)
    ]
    assert untyped == []


def test_the_check_finds_an_untyped_answer() -> None:
    components = {"Thing": {"type": "object", "additionalProperties": True}}
    assert bare({}, components)
    assert bare({"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}, components)
    assert not bare({"type": "object", "properties": {"id": {"type": "integer"}}}, components)
    assert not bare({"type": "object", "additionalProperties": {"type": "integer"}}, components)


def test_the_event_stream_is_documented_as_one() -> None:
    document = create_app("sqlite:///:memory:").openapi()
    assert set(document["paths"]["/api/events"]["get"]["responses"]["200"]["content"]) == {
        "text/event-stream"
    }


def test_the_state_without_a_level_has_no_share_of_the_design_storage(client: Api) -> None:
    state = client.get("/api/hydrology/state").json()
    assert set(state) == {"time", "level", "storage", "inflow", "outflow", "levels"}
    assert state["time"] is None and state["level"] is None


def test_telemetry_without_listeners_is_an_empty_object(client: Api) -> None:
    assert client.get("/api/telemetry").json() == {}
