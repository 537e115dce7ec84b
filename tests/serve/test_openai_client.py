"""`formwork serve` through the official `openai` SDK, as an application would call it.

Checks that the server speaks the OpenAI chat and completions protocol well enough for the SDK
(objects, choices, usage, finish reasons, streaming chunks, logprobs, tool calls), and that every
constrained output is what was asked for: each json_schema answer for 20 real JSONSchemaBench
schemas (tests/data/serve_schemas.jsonl) parses and validates with `jsonschema`, tool-call
arguments validate against the tool's parameters, and vLLM-style `structured_outputs` /
`guided_*` extras constrain the text. The model is tiny, so only validity, never quality, is
asserted; outputs are kept short so the module runs in a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import pytest
from jsonschema.validators import validator_for
from openai import OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessage

if TYPE_CHECKING:
    from conftest import Served

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
SCHEMA_TOKENS = 96
TEXT_TOKENS = 32
# A constrained document that would run past max_tokens is closed early by the server, still
# complete and valid, and reported as "length"; one the model ends by itself is "stop".
CLOSED = ("stop", "length")


def read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


SCHEMAS = read_jsonl(DATA / "serve_schemas.jsonl")
SCHEMA = {case["name"]: case for case in SCHEMAS}
TOOL_ROWS = {row["name"]: row for row in read_jsonl(DATA / "tool_calls.jsonl")}
TOOL_NAMES = ("get_shortest_driving_distance", "solve_quadratic_equation", "identify_bird")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": name.replace("_", " ").capitalize() + ".",
            "parameters": TOOL_ROWS[name]["parameters"],
        },
    }
    for name in TOOL_NAMES
]
DRIVE_PROMPT = TOOL_ROWS["get_shortest_driving_distance"]["prompt"]


# Every format `jsonschema` can check without its optional extras, plus the two most common
# ones that need those extras: date-time (RFC 3339) and uri (a scheme, then anything).
FORMATS = jsonschema.FormatChecker()
DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = DATE_TIME.fullmatch(value)
    return bool(match and datetime.date.fromisoformat(match.group(1)))


@FORMATS.checks("uri")
def is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", value))


def validator(schema: Any) -> jsonschema.protocols.Validator:
    """A validator of the schema's own draft (2020-12 when it names none), checking formats."""
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=FORMATS)


def assert_valid(text: str | None, schema: Any) -> Any:
    """Parses `text` as JSON and validates it against `schema`; returns the value."""
    assert isinstance(text, str), f"no text content: {text!r}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        pytest.fail(f"not JSON ({e}): {text!r}")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(schema).iter_errors(value)]
    assert not errors, f"{text!r} does not validate: {errors}"
    return value


def assert_tool_calls(message: ChatCompletionMessage, allowed: tuple[str, ...]) -> list[str]:
    """Each tool call is a function call of an allowed tool, with a unique id and arguments
    that validate against that tool's parameters; returns the functions' names."""
    calls = message.tool_calls
    assert calls, f"no tool calls in {message}"
    ids = set()
    names = []
    for call in calls:
        assert call.type == "function", call
        assert isinstance(call.id, str) and call.id and call.id not in ids, call
        ids.add(call.id)
        assert call.function.name in allowed, call
        assert_valid(call.function.arguments, TOOL_ROWS[call.function.name]["parameters"])
        names.append(call.function.name)
    return names


def assert_usage(completion: ChatCompletion, max_tokens: int) -> None:
    usage = completion.usage
    assert usage is not None, completion
    assert usage.prompt_tokens > 0, usage
    assert 0 < usage.completion_tokens <= max_tokens, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage


def json_schema_format(case: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": case["name"], "schema": case["schema"], "strict": strict},
    }


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def client(server: Served) -> Iterator[OpenAI]:
    with OpenAI(
        base_url=f"{server.base_url}/v1", api_key="x", max_retries=0, timeout=300
    ) as client:
        yield client


def test_plain_chat(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=[
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Name three colours."},
        ],
        max_tokens=TEXT_TOKENS,
        temperature=0.7,
        top_p=0.9,
    )
    assert completion.object == "chat.completion"
    assert isinstance(completion.id, str) and completion.id
    assert isinstance(completion.created, int) and completion.created > 0
    assert completion.model == server.model_id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert_usage(completion, TEXT_TOKENS)


def test_max_completion_tokens_and_length(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user("Write a long story about a lighthouse keeper."),
        max_completion_tokens=4,
        temperature=0,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 4


def test_stop_sequence(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user("Count from one to ten in words, separated by commas."),
        max_tokens=TEXT_TOKENS,
        temperature=0,
        stop=[","],
    )
    content = completion.choices[0].message.content
    assert isinstance(content, str) and "," not in content, content


@pytest.mark.parametrize("case", SCHEMAS, ids=[case["name"] for case in SCHEMAS])
def test_json_schema_strict(client: OpenAI, server: Served, case: dict[str, Any]) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=[
            {"role": "system", "content": "You answer with JSON only."},
            {"role": "user", "content": case["prompt"]},
        ],
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        response_format=json_schema_format(case),
    )
    choice = completion.choices[0]
    assert choice.finish_reason in CLOSED, (choice.finish_reason, choice.message.content)
    assert_valid(choice.message.content, case["schema"])
    assert_usage(completion, SCHEMA_TOKENS)


def test_json_schema_lenient(client: OpenAI, server: Served) -> None:
    """strict: false accepts a supported schema the same way; a `warnings` extra, if any, is a
    list."""
    case = SCHEMA["find_hotels"]
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(case["prompt"]),
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        response_format=json_schema_format(case, strict=False),
    )
    assert_valid(completion.choices[0].message.content, case["schema"])
    warnings = (completion.model_extra or {}).get("warnings")
    assert warnings is None or isinstance(warnings, list), warnings


def test_json_schema_lenient_warnings(client: OpenAI, server: Served) -> None:
    """strict: false approximates what it cannot enforce (a remote $ref, which strict: true
    rejects with 400) and says so in a top-level `warnings` list of strings."""
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "http://example.com/remote.json"}},
        "required": ["a"],
    }
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user("Give a JSON object with a field a."),
        max_tokens=TEXT_TOKENS,
        temperature=0,
        response_format=json_schema_format({"name": "remote", "schema": schema}, strict=False),
    )
    value = assert_valid(completion.choices[0].message.content, {"required": ["a"]})
    assert isinstance(value, dict), value
    warnings = (completion.model_extra or {}).get("warnings")
    assert isinstance(warnings, list) and warnings, completion
    assert all(isinstance(warning, str) for warning in warnings), warnings


def test_json_object(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user("Describe a cat called Tom, with his name and age, as a JSON object."),
        max_tokens=64,
        temperature=0,
        response_format={"type": "json_object"},
    )
    content = completion.choices[0].message.content
    assert isinstance(content, str)
    assert isinstance(json.loads(content), dict), content


def test_tool_choice_required(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(DRIVE_PROMPT),
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        tools=TOOLS,
        tool_choice="required",
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert_tool_calls(choice.message, TOOL_NAMES)


def test_tool_choice_named(client: OpenAI, server: Served) -> None:
    """A named function is the one called, even for a prompt that fits another tool better."""
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(DRIVE_PROMPT),
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "identify_bird"}},
    )
    choice = completion.choices[0]
    # OpenAI answers "stop" for a named function, vLLM "tool_calls": either is accepted.
    assert choice.finish_reason in ("tool_calls", "stop"), choice
    names = assert_tool_calls(choice.message, TOOL_NAMES)
    assert set(names) == {"identify_bird"}, names


def test_tool_choice_auto(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(TOOL_ROWS["solve_quadratic_equation"]["prompt"]),
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        tools=TOOLS,
        tool_choice="auto",
    )
    choice = completion.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls", choice
        assert_tool_calls(choice.message, TOOL_NAMES)
    else:
        assert isinstance(choice.message.content, str) and choice.message.content, choice
        assert choice.finish_reason in ("stop", "length"), choice


def test_tool_choice_none(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(DRIVE_PROMPT),
        max_tokens=TEXT_TOKENS,
        temperature=0,
        tools=TOOLS,
        tool_choice="none",
    )
    choice = completion.choices[0]
    assert not choice.message.tool_calls, choice
    assert isinstance(choice.message.content, str) and choice.message.content, choice


def test_parallel_tool_calls_false(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(
            "How far is the drive from Paris to Berlin? Also solve x^2 + 3x + 2 = 0 and "
            "identify a small blue bird seen by a lake. Use the tools for all three."
        ),
        max_tokens=SCHEMA_TOKENS,
        temperature=0,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
    )
    message = completion.choices[0].message
    names = assert_tool_calls(message, TOOL_NAMES)
    assert len(names) == 1, message.tool_calls


def test_multi_turn_with_tool_result(client: OpenAI, server: Served) -> None:
    arguments = {"origin": "New York", "destination": "Washington D.C.", "unit": "km"}
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=[
            {"role": "system", "content": "You are a travel assistant."},
            {"role": "user", "content": DRIVE_PROMPT},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {
                            "name": "get_shortest_driving_distance",
                            "arguments": json.dumps(arguments),
                        },
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_0",
                "content": json.dumps({"distance": 364, "unit": "km"}),
            },
        ],
        max_tokens=TEXT_TOKENS,
        temperature=0,
        tools=TOOLS,
    )
    choice = completion.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls"), choice
    if choice.message.tool_calls:
        assert_tool_calls(choice.message, TOOL_NAMES)
    else:
        assert isinstance(choice.message.content, str) and choice.message.content, choice


def test_stream_json_schema_with_usage(client: OpenAI, server: Served) -> None:
    case = SCHEMA["invoice"]
    chunks = list(
        client.chat.completions.create(
            model=server.model_id,
            messages=user(case["prompt"]),
            max_tokens=SCHEMA_TOKENS,
            temperature=0,
            response_format=json_schema_format(case),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len(chunks) >= 2, chunks
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1, "one id for all chunks of a stream"
    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert with_choices[0].choices[0].delta.role == "assistant", with_choices[0]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in with_choices)
    finish = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0] in CLOSED, finish
    assert_valid(text, case["schema"])
    last = chunks[-1]
    assert last.choices == [], last
    assert last.usage is not None, last
    assert 0 < last.usage.completion_tokens <= SCHEMA_TOKENS, last.usage
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_plain_without_usage(client: OpenAI, server: Served) -> None:
    chunks = list(
        client.chat.completions.create(
            model=server.model_id,
            messages=user("Say hello."),
            max_tokens=8,
            temperature=0,
            stream=True,
        )
    )
    assert chunks and all(chunk.usage is None for chunk in chunks)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert len(finish) == 1 and finish[0] in ("stop", "length"), finish


def test_n_choices(client: OpenAI, server: Served) -> None:
    case = SCHEMA["fstab_entry"]
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(case["prompt"]),
        max_tokens=SCHEMA_TOKENS,
        temperature=0.8,
        seed=7,
        n=3,
        response_format=json_schema_format(case),
    )
    assert sorted(choice.index for choice in completion.choices) == [0, 1, 2]
    for choice in completion.choices:
        assert choice.finish_reason in CLOSED, choice
        assert_valid(choice.message.content, case["schema"])
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_same_seed_same_output(client: OpenAI, server: Served) -> None:
    def sample() -> str | None:
        completion = client.chat.completions.create(
            model=server.model_id,
            messages=user("Write one sentence about the sea."),
            max_tokens=TEXT_TOKENS,
            temperature=0.8,
            seed=1234,
        )
        return completion.choices[0].message.content

    first, second = sample(), sample()
    assert first and first == second, (first, second)


def test_logprobs(client: OpenAI, server: Served) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user("What is the capital of France?"),
        max_tokens=8,
        temperature=0,
        logprobs=True,
        top_logprobs=2,
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content, completion.choices[0]
    assert completion.usage is not None
    assert len(logprobs.content) == completion.usage.completion_tokens
    for entry in logprobs.content:
        assert isinstance(entry.token, str)
        assert entry.logprob <= 0.0, entry
        assert len(entry.top_logprobs) == 2, entry
        for top in entry.top_logprobs:
            assert isinstance(top.token, str) and top.logprob <= 0.0, top
        # Greedy: the chosen token is the most likely one.
        assert entry.logprob >= max(top.logprob for top in entry.top_logprobs) - 1e-3, entry


def test_completions_prompt(client: OpenAI, server: Served) -> None:
    completion = client.completions.create(
        model=server.model_id, prompt="The capital of France is", max_tokens=16, temperature=0
    )
    assert completion.object == "text_completion"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert isinstance(choice.text, str) and choice.text, choice
    assert choice.finish_reason in ("stop", "length"), choice
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 16


def test_completions_guided_regex(client: OpenAI, server: Served) -> None:
    pattern = r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}"
    completion = client.completions.create(
        model=server.model_id,
        prompt="The office phone number, in the form (555) 123-4567, is ",
        max_tokens=TEXT_TOKENS,
        temperature=0,
        extra_body={"guided_regex": pattern},
    )
    text = completion.choices[0].text
    assert re.fullmatch(pattern, text), text
    assert completion.choices[0].finish_reason == "stop"


CHOICES = ["positive", "negative", "neutral"]
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
GRAMMAR = 'root ::= answer "."\nanswer ::= "yes" | "no"\n'
STRUCTURED = [
    ("structured_outputs", {"choice": CHOICES}, "choice"),
    ("guided_choice", CHOICES, "choice"),
    ("structured_outputs", {"regex": DATE}, "regex"),
    ("guided_regex", DATE, "regex"),
    ("structured_outputs", {"json": SCHEMA["fstab_entry"]["schema"]}, "json"),
    ("guided_json", SCHEMA["fstab_entry"]["schema"], "json"),
    ("structured_outputs", {"grammar": GRAMMAR}, "grammar"),
    ("guided_grammar", GRAMMAR, "grammar"),
]
PROMPTS = {
    "choice": "Is the review 'I love this phone, it works great' positive, negative or neutral?",
    "regex": "On which date did the Berlin Wall fall? Answer with the date.",
    "json": SCHEMA["fstab_entry"]["prompt"],
    "grammar": "Is Paris the capital of France? Answer yes or no.",
}


@pytest.mark.parametrize(
    ("key", "value", "kind"), STRUCTURED, ids=[f"{key}-{kind}" for key, _, kind in STRUCTURED]
)
def test_structured_outputs_extra_body(
    client: OpenAI, server: Served, key: str, value: Any, kind: str
) -> None:
    completion = client.chat.completions.create(
        model=server.model_id,
        messages=user(PROMPTS[kind]),
        max_tokens=SCHEMA_TOKENS if kind == "json" else TEXT_TOKENS,
        temperature=0,
        extra_body={key: value},
    )
    choice = completion.choices[0]
    content = choice.message.content
    assert choice.finish_reason in (CLOSED if kind == "json" else ("stop",)), choice
    if kind == "choice":
        assert content in CHOICES, content
    elif kind == "regex":
        assert isinstance(content, str) and re.fullmatch(DATE, content), content
    elif kind == "json":
        assert_valid(content, SCHEMA["fstab_entry"]["schema"])
    else:
        assert content in ("yes.", "no."), content


def test_models(client: OpenAI, server: Served) -> None:
    models = client.models.list()
    assert models.data, models
    assert models.data[0].id == server.model_id
    assert models.data[0].object == "model"


def test_health(server: Served) -> None:
    response = httpx.get(f"{server.base_url}/health", timeout=30)
    assert response.status_code == 200
    assert response.json().get("status") == "ok", response.text


def test_metrics_count_requests(client: OpenAI, server: Served) -> None:
    client.chat.completions.create(
        model=server.model_id, messages=user("Hi"), max_tokens=2, temperature=0
    )
    response = httpx.get(f"{server.base_url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    samples = re.findall(
        r"^formwork_requests_total(?:\{[^}]*\})?\s+(\S+)", response.text, flags=re.MULTILINE
    )
    assert samples, response.text
    assert sum(float(value) for value in samples) > 0, samples
