"""The API answers every error in one JSON shape, pinned here.

::

    {"error": {"type": "<class name>", "message": "<for a person>", "status": <HTTP status>}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import Api, serve
from shuian import errors
from shuian.api import create_app
from shuian.errors import TooLargeError


def error_of(response: httpx.Response, *, status: int, type: str) -> str:
    """Check the one error shape; return the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert list(body["error"]) == ["type", "message", "status"]
    assert body["error"]["type"] == type
    assert body["error"]["status"] == status
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return message


def test_400_invalid_request(client: Api) -> None:
    response = client.get("/api/channels/WL.level/readings", params={"start": "2024-13-45"})
    message = error_of(response, status=400, type="InvalidRequestError")
    assert message.startswith("start '2024-13-45' is not an ISO 8601 time")


def test_404_unknown_channel(client: Api) -> None:
    message = error_of(client.get("/api/channels/NOPE/readings"), status=404, type="NotFoundError")
    assert "'NOPE'" in message


def test_404_unknown_path(client: Api) -> None:
    error_of(client.get("/api/nothing-here"), status=404, type="HTTPException")


def test_405_wrong_method_names_the_allowed_ones(client: Api) -> None:
    response = client.request("DELETE", "/api/site")
    error_of(response, status=405, type="HTTPException")
    assert response.headers["allow"] == "GET"


def test_409_no_site(empty_client: Api) -> None:
    message = error_of(empty_client.get("/api/site"), status=409, type="NoSiteError")
    assert "shuian init" in message


@pytest.mark.parametrize(
    ("params", "location"),
    [({"max_points": 1}, "query.max_points"), ({"max_points": "all"}, "query.max_points")],
)
def test_422_bad_query_parameter_names_its_location(
    client: Api, params: dict[str, Any], location: str
) -> None:
    response = client.get("/api/channels/WL.level/readings", params=params)
    message = error_of(response, status=422, type="RequestValidationError")
    assert message.startswith(f"{location}: ")


def test_422_bad_body_names_every_field_location(operator: Api) -> None:
    body = {"readings": [{"channel": "WL.level"}, {"time": "2024-03-01T00:00Z", "value": 1}]}
    message = error_of(
        operator.post("/api/readings", json=body), status=422, type="RequestValidationError"
    )
    assert message.split("; ") == [
        "body.readings.0.time: Field required",
        "body.readings.1.channel: Field required",
    ]


def test_422_body_that_is_not_json(operator: Api) -> None:
    response = operator.post("/api/readings", json="not an object")
    error_of(response, status=422, type="RequestValidationError")


# -- every ShuianError, whatever route raises it ----------------------------------------------

EXAMPLES: list[errors.ShuianError] = [
    errors.ShuianError("something went wrong"),
    errors.SiteError("site.yaml", ["reservoir.code: field required"]),
    errors.ConversionError("no calibration"),
    errors.InputFileError("data.csv: line 1: no header"),
    errors.NotFoundError("no channel 'X'"),
    errors.InvalidRequestError("bad parameter"),
    errors.NotificationError("webhook http://example.test: 500"),
    errors.MqttError("mqtt: the variable MQTT_PASSWORD is not set"),
    errors.Sl651Error(11, "length 40 but 38 bytes follow"),
    errors.AuthenticationError("log in first"),
    errors.TooManyAttemptsError("too many failed logins for 'li': try again in 60 s",
                                retry_after_s=60),
    errors.PermissionDeniedError("user 'li' is viewer: this needs the operator role or above"),
    errors.StoreError("database unreachable"),
    errors.StoreUnavailableError("database postgresql://db/shuian: connection refused"),
    errors.StoreRefusedError("the database refused the data: a NUL character"),
    errors.NoSiteError("sqlite:///shuian.db"),
    TooLargeError("the request body is larger than 16777216 bytes"),
]


def all_subclasses(cls: type[errors.ShuianError]) -> set[type[errors.ShuianError]]:
    return {cls}.union(*(all_subclasses(sub) for sub in cls.__subclasses__()))


def test_the_examples_cover_every_error_class() -> None:
    assert {type(e) for e in EXAMPLES} == all_subclasses(errors.ShuianError)


@pytest.fixture(scope="module")
def raising_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An app (on a throwaway SQLite file) with routes that raise on purpose."""
    app = create_app(f"sqlite:///{tmp_path_factory.mktemp('raising') / 'shuian.db'}")

    @app.get("/raise/{index}")
    def raise_example(index: int) -> None:
        raise EXAMPLES[index]

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("secret detail")

    with serve(app, raise_app_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[type(e).__name__ for e in EXAMPLES])
def test_every_shuian_error_answers_its_class_status(raising_app: Api, index: int) -> None:
    example = EXAMPLES[index]
    message = error_of(
        raising_app.get(f"/raise/{index}"), status=example.status, type=type(example).__name__
    )
    assert message == example.message


def test_500_a_bug_answers_the_shape_without_its_details(raising_app: Api) -> None:
    message = error_of(raising_app.get("/bug"), status=500, type="InternalError")
    assert "secret" not in message
