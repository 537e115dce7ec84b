"""`formwork serve` under bad and excessive requests, over raw HTTP (`httpx`).

Each bad request must get its documented status with an OpenAI-shaped error body
(``{"error": {"message", "type", "param", "code"}}``), which is what OpenAI clients parse, and
must leave the server healthy: every case is followed by a normal request that has to succeed.
Covers malformed JSON (400), a body of the wrong shape (422), an unknown model (404), invalid and
unsupported schemas (400), a negative max_tokens (400), a body over --max-body (413), a missing or
wrong API key (401), and 1,000 simultaneous connections against --parallel 1 --queue 4, where
each request gets 200 or 429 with Retry-After, none hangs or breaks at the transport level.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import TYPE_CHECKING, Any, Callable

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Served

API_KEY = "serve-test-key"
MAX_BODY = 4 * 1024 * 1024
HUGE_BODY = 10 * 1024 * 1024
FLOOD = 1000
JSON_HEADERS = {"Content-Type": "application/json"}


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    """A small valid chat request."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 2,
        **extra,
    }


def chat_url(served: Served) -> str:
    return f"{served.base_url}/v1/chat/completions"


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response has `status` and an OpenAI error body; returns the error object."""
    assert response.status_code == status, (response.status_code, response.text[:2000])
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {response.text[:2000]!r}")
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), body
    missing = {"message", "type", "param", "code"} - set(error)
    assert not missing, f"error lacks {sorted(missing)}: {body}"
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["type"], str) and error["type"], body
    assert error["param"] is None or isinstance(error["param"], str), body
    assert error["code"] is None or isinstance(error["code"], (str, int)), body
    return error


def assert_serving(served: Served, headers: dict[str, str] | None = None) -> None:
    """A normal small chat request still succeeds."""
    response = httpx.post(
        chat_url(served), json=chat_body(served.model_id), headers=headers, timeout=120
    )
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    assert response.json()["choices"][0]["message"]["role"] == "assistant", response.text


@pytest.fixture(scope="module")
def keyed_server(server_factory: Callable[..., Served]) -> Served:
    return server_factory("--parallel", "1", "--queue", "8", "--api-key", API_KEY)


@pytest.fixture(scope="module")
def small_body_server(server_factory: Callable[..., Served]) -> Served:
    return server_factory("--parallel", "1", "--queue", "8", "--max-body", str(MAX_BODY))


@pytest.fixture(scope="module")
def capacity_server(server_factory: Callable[..., Served]) -> Served:
    return server_factory("--parallel", "1", "--queue", "4")


def schema_format(schema: Any) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "bad", "schema": schema, "strict": True},
    }


REMOTE_REF = {
    "type": "object",
    "properties": {"a": {"$ref": "http://example.com/remote.json"}},
    "required": ["a"],
}
BAD: list[tuple[str, Callable[[str], bytes], int]] = [
    (
        "malformed-json",
        lambda model: b'{"model": "' + model.encode() + b'", "messages": [{"role": ',
        400,
    ),
    (
        "messages-not-a-list",
        lambda model: json.dumps({"model": model, "messages": "hello"}).encode(),
        422,
    ),
    (
        "unknown-model",
        lambda model: json.dumps(chat_body("no-such-model")).encode(),
        404,
    ),
    (
        "schema-type-5",
        lambda model: json.dumps(
            chat_body(model, response_format=schema_format({"type": 5}))
        ).encode(),
        400,
    ),
    (
        "schema-type-5-stream",
        lambda model: json.dumps(
            chat_body(model, response_format=schema_format({"type": 5}), stream=True)
        ).encode(),
        400,
    ),
    (
        "schema-remote-ref",
        lambda model: json.dumps(
            chat_body(model, response_format=schema_format(REMOTE_REF))
        ).encode(),
        400,
    ),
    (
        "negative-max-tokens",
        lambda model: json.dumps(chat_body(model, max_tokens=-1)).encode(),
        400,
    ),
]


@pytest.mark.parametrize(("make_body", "status"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_request(server: Served, make_body: Callable[[str], bytes], status: int) -> None:
    response = httpx.post(
        chat_url(server), content=make_body(server.model_id), headers=JSON_HEADERS, timeout=60
    )
    assert_error(response, status)
    assert_serving(server)


def test_body_over_max_body(small_body_server: Served) -> None:
    body = chat_body(small_body_server.model_id, max_tokens=1)
    body["messages"][0]["content"] = "a" * HUGE_BODY
    response = httpx.post(
        chat_url(small_body_server),
        content=json.dumps(body).encode(),
        headers=JSON_HEADERS,
        timeout=120,
    )
    assert_error(response, 413)
    assert_serving(small_body_server)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-key"}], ids=["missing-key", "wrong-key"]
)
def test_api_key_rejected(keyed_server: Served, headers: dict[str, str]) -> None:
    response = httpx.post(
        chat_url(keyed_server), json=chat_body(keyed_server.model_id), headers=headers, timeout=60
    )
    assert_error(response, 401)
    assert_serving(keyed_server, headers={"Authorization": f"Bearer {API_KEY}"})


async def flood(served: Served) -> list[httpx.Response | BaseException]:
    """FLOOD chat requests at once, one connection each; bounded in time."""
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=0)
    timeout = httpx.Timeout(300, connect=60)
    body = chat_body(served.model_id, max_tokens=1)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        requests = [client.post(chat_url(served), json=body) for _ in range(FLOOD)]
        return await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 600)


def test_thousand_connections_get_200_or_429(capacity_server: Served) -> None:
    results = asyncio.run(flood(capacity_server))
    failures = [r for r in results if isinstance(r, BaseException)]
    kinds = collections.Counter(type(f).__name__ for f in failures)
    assert not failures, f"{len(failures)} transport errors {dict(kinds)}, e.g. {failures[0]!r}"
    responses = [r for r in results if isinstance(r, httpx.Response)]
    statuses = collections.Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] >= 1 and statuses[429] >= 1, statuses
    for response in responses:
        if response.status_code == 200:
            assert response.json()["choices"], response.text
        else:
            retry_after = response.headers.get("retry-after")
            assert retry_after is not None and retry_after.isdigit(), response.headers
            assert_error(response, 429)
    assert_serving(capacity_server)
