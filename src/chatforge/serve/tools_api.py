"""OpenAI function calling on /v1/chat/completions: `tools`, `tool_choice`, `tool_calls` in
replies (streamed too) and `tool` messages, so LangChain's `bind_tools`, LangGraph's ReAct agent
and other OpenAI clients drive the bot's model as an agent of their own.

The model is asked for one JSON object, `{"tool": name, "arguments": {...}}` or `{"answer":
text}`, and decoded under a grammar built from the tools' JSON schemas
(chatforge.agent.loop.step_schema): arguments always parse and match their schema, and the name
is always one of the client's tools. `tool_choice` narrows the grammar: none (plain text),
auto (a call or an answer), required (a call), or one named function. A `response_format` of
`json_object` or `json_schema` (LangChain's `with_structured_output`) puts the reply itself under
a grammar: the content is one JSON object of that schema. These requests are the client's own
loop: no passages are retrieved and nothing is stored.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sse_starlette import EventSourceResponse

from chatforge.agent.loop import ANSWER, step_schema
from chatforge.agent.tools import Tool
from chatforge.errors import ModelError
from chatforge.llm.base import LLM, GenOptions
from chatforge.serve.errors import ApiError
from chatforge.serve.runner import GenerationRunner

PROMPT = """You are a helpful assistant that may call tools.
Each reply is one JSON object: {{"tool": "<name>", "arguments": {{...}}}} to call a tool, or \
{{"answer": "<text>"}} to reply to the user.
Tools:
{tools}
When one of the tools can do the task or find what is asked, call it first: never make up \
what a tool would return. Once the tool results above answer the request, answer.
Example, with a tool price(item), for "What does a lamp cost?":
{{"tool": "price", "arguments": {{"item": "lamp"}}}}
Result of price: 30 euros
{{"answer": "A lamp costs 30 euros."}}"""
JSON_PROMPT = "Reply with one JSON object, and nothing else."
SCHEMA_PROMPT = " It follows this JSON schema:\n{}"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _usable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema that llama.cpp's grammar converter takes (ValueError otherwise)."""
    from chatforge.llm.llamacpp import schema_grammar

    if schema.get("type", "object") != "object":
        raise ValueError('the schema must be a JSON schema of "type": "object"')
    try:
        schema_grammar(json.dumps(schema))
    except ModelError as e:
        raise ValueError(f"not a usable JSON schema: {e}") from e
    return {"type": "object", **schema}


class FunctionDef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="letters, digits, _ and -, at most 64")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME.match(name):
            raise ValueError(f"{name!r} is not a function name; use 1 to 64 of A-Z a-z 0-9 _ -")
        return name

    @field_validator("parameters")
    @classmethod
    def _schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return _usable_schema(schema)


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = Field("reply", max_length=64)
    description: str = ""
    body: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    strict: bool | None = None

    @field_validator("body")
    @classmethod
    def _schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return _usable_schema(schema)


class ResponseFormat(BaseModel):
    """OpenAI's `response_format`: plain text, any JSON object, or one of a JSON schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _named(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError('type "json_schema" needs `json_schema` with the schema')
        return self

    def shape(self) -> dict[str, Any] | None:
        """The reply's JSON schema; None for plain text."""
        if self.type == "json_schema":
            return self.json_schema.body  # type: ignore[union-attr]
        return {"type": "object"} if self.type == "json_object" else None


class ToolDef(BaseModel):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(BaseModel):
    name: str


class NamedChoice(BaseModel):
    type: Literal["function"]
    function: NamedFunction


class FunctionCall(BaseModel):
    name: str
    arguments: str = Field(description="the arguments as a JSON text")


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ToolRequest(BaseModel):
    """The request fields of function calling (mixed into the chat completion request)."""

    tools: list[ToolDef] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


class ToolMessage(BaseModel):
    """The message fields of function calling (mixed into the chat message)."""

    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


def uses_tools(req: Any) -> bool:
    """Whether the client runs its own loop: tools offered or asked for, a tool round trip in
    its messages, or a reply asked for as JSON."""
    if req.tools or req.tool_choice not in (None, "none") or _shape(req) is not None:
        return True
    return any(m.role == "tool" or m.tool_calls for m in req.messages)


def _shape(req: Any) -> dict[str, Any] | None:
    return req.response_format.shape() if req.response_format else None


def _json_prompt(req: Any) -> str:
    """What the model is told of a reply asked for as JSON (a bare object schema is left out:
    a small model copies its "type" key into the reply)."""
    schema = req.response_format.json_schema
    return JSON_PROMPT + (SCHEMA_PROMPT.format(json.dumps(schema.body)) if schema else "")


def _choice_schema(req: Any, shape: dict[str, Any] | None) -> dict[str, Any] | None:
    """The grammar's schema for `tool_choice` (None: plain text; `shape`, the reply's own
    schema, when it is asked for as JSON and no tool may be called)."""
    tools = {t.function.name: t.function for t in req.tools or []}
    choice = req.tool_choice or ("auto" if tools else "none")
    if isinstance(choice, NamedChoice):
        if choice.function.name not in tools:
            raise ApiError(
                400,
                f"tool_choice names {choice.function.name!r}, which is not among the tools "
                f"({', '.join(tools) or 'none given'})",
                param="tool_choice",
            )
        tools = {choice.function.name: tools[choice.function.name]}
        choice = "required"
    if choice == "none":
        return shape
    if not tools:
        raise ApiError(400, f"tool_choice {choice!r} needs `tools`", param="tool_choice")
    defs = [Tool(f.name, f.description, f.parameters, _not_run) for f in tools.values()]
    return step_schema(defs, answer=choice == "auto", answer_schema=shape or ANSWER)


def _not_run(_: dict[str, Any]) -> str:
    raise AssertionError("the client runs its own tools")


def prompt_messages(req: Any) -> list[dict[str, str]]:
    """The conversation as the model reads it: the tools listed in the system prompt, calls
    written as the JSON the model produces, results as messages naming their tool."""
    listing = "\n".join(
        f"- {t.function.name}({json.dumps(t.function.parameters.get('properties', {}))}): "
        f"{t.function.description}"
        for t in req.tools or []
    )
    shape = _shape(req)
    json_only = shape is not None and not (req.tools and req.tool_choice != "none")
    if json_only:
        system = _json_prompt(req)
    else:
        system = PROMPT.format(tools=listing or "(none)")
        if shape is not None:
            system += f"\nThe answer is itself a JSON object. {_json_prompt(req)}"
    out = [{"role": "system", "content": system}]
    called: dict[str, str] = {}
    for i, m in enumerate(req.messages):
        if m.role in ("system", "developer"):
            out[0]["content"] = f"{m.text()}\n\n{out[0]['content']}"
        elif m.role == "tool":
            name = called.get(m.tool_call_id or "")
            if name is None:
                raise ApiError(
                    400,
                    f"messages[{i}] answers tool call {m.tool_call_id!r}, which no earlier "
                    "assistant message made; send the call before its result",
                    param=f"messages[{i}].tool_call_id",
                )
            out.append({"role": "user", "content": f"Result of {name}:\n{m.text()}"})
        elif m.role == "assistant" and m.tool_calls:
            lines = []
            for call in m.tool_calls:
                called[call.id] = call.function.name
                lines.append(_call_text(call))
            out.append({"role": "assistant", "content": "\n".join(lines)})
        elif m.role == "assistant":
            text = m.text() if json_only else json.dumps({"answer": m.text()})
            out.append({"role": "assistant", "content": text})
        else:
            out.append({"role": "user", "content": m.text()})
    return out


def _call_text(call: ToolCall) -> str:
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError:
        arguments = {}
    return json.dumps({"tool": call.function.name, "arguments": arguments}, ensure_ascii=False)


def reply_of(
    text: str, schema: dict[str, Any] | None, shape: dict[str, Any] | None = None
) -> tuple[str | None, list[dict]]:
    """The reply's content and tool calls, in OpenAI's shape."""
    if schema is None:
        return text, []
    if schema is shape:  # a reply asked for as JSON, no tool offered
        return text.strip(), []
    step = json.loads(text)  # the grammar guarantees it parses
    if "answer" in step:
        answer = step["answer"]
        return (answer if shape is None else json.dumps(answer, ensure_ascii=False)), []
    call = {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {
            "name": step["tool"],
            "arguments": json.dumps(step["arguments"], ensure_ascii=False),
        },
    }
    return None, [call]


async def tool_completion(
    req: Any, llm: LLM, runner: GenerationRunner, owner: str, gen: dict[str, Any], model: str
) -> Any:
    """The reply to a function-calling request, whole or as server-sent events; the model
    writes it in `runner`'s queue, counted against `owner`'s share, as answers are."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}
    shape = _shape(req)
    schema = _choice_schema(req, shape)
    messages = prompt_messages(req)
    options = GenOptions(
        max_tokens=gen["max_tokens"],
        temperature=gen["temperature"] or 0.0,
        top_p=gen["top_p"] or 1.0,
        stop=tuple(gen["stop"] or ()) if schema is None else (),
        seed=gen["seed"],
        json_schema=json.dumps(schema) if schema else None,
    )
    generation = await runner.run(lambda: llm.generate(messages, options), owner=owner)
    if schema is not None and generation.finish_reason == "length":
        raise ApiError(
            400,
            f"max_tokens ({options.max_tokens}) ended the reply before its JSON was whole; "
            "raise max_tokens (a tool call takes a few dozen tokens)",
            param="max_tokens",
        )
    content, calls = reply_of(generation.text, schema, shape)
    finish = "tool_calls" if calls else generation.finish_reason
    usage = {
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "total_tokens": generation.prompt_tokens + generation.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": generation.cached_tokens},
    }
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        events = _chunks(head, content, calls, finish, usage if include_usage else None)
        return EventSourceResponse(events, sep="\n", ping=15)
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    body = {"object": "chat.completion", **head, "choices": [choice], "usage": usage}
    return {**body, "chatforge": {}}  # no passages: the client's tools are its sources


async def _chunks(
    head: dict[str, Any],
    content: str | None,
    calls: Sequence[dict[str, Any]],
    finish: str,
    usage: dict[str, Any] | None,
) -> AsyncIterator[str]:
    """OpenAI's chunk sequence: the role, the content or each call (name, then arguments),
    the finish reason, the usage when asked for, [DONE]."""

    def chunk(delta: dict[str, Any], reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
        body = {"object": "chat.completion.chunk", **head, "choices": [choice]}
        return json.dumps(body, ensure_ascii=False)

    yield chunk({"role": "assistant", "content": None if calls else ""})
    if content:
        yield chunk({"content": content})
    for i, call in enumerate(calls):
        named = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [{"index": i, **named}]})
        arguments = {"arguments": call["function"]["arguments"]}
        yield chunk({"tool_calls": [{"index": i, "function": arguments}]})
    yield chunk({}, finish)
    if usage is not None:
        body = json.loads(chunk({}))
        body["choices"], body["usage"] = [], usage
        yield json.dumps(body)
    yield "[DONE]"
