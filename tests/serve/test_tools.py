"""Function calling on /v1/chat/completions, driven over real HTTP by the `openai` package,
LangChain's ChatOpenAI.bind_tools and LangChain's own agent, on the bot's default model."""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest

pytestmark = pytest.mark.slow

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "the weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "add two whole numbers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


@pytest.fixture(scope="module")
def live(serve_bot_dir, embedder, serve_llm):
    """One server for the module, over the shared bot and model."""
    from servesupport import LiveServer

    from chatforge.bot import Bot

    bot = Bot(serve_bot_dir, embedder=embedder, llm=serve_llm)
    bot.settings.llm.temperature = 0.0
    server = LiveServer(bot)
    yield server
    server.stop()
    bot.close()


@pytest.fixture(scope="module")
def client(live):
    return openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0)


def _valid(call, tool) -> dict:
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == tool["function"]["name"]
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, tool["function"]["parameters"])
    return arguments


@pytest.mark.parametrize(
    "question", ["What is the weather in Lyon, in celsius?", "Quel temps fait-il à Lyon ?"]
)
def test_required_gives_a_call_matching_the_schema(client, question):
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": question}],
        tools=[WEATHER, ADD],
        tool_choice="required",
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    tool = WEATHER if call.function.name == "get_weather" else ADD
    _valid(call, tool)


def test_a_named_function_is_the_one_called(client):
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "What is 2 plus 3?"}],
        tools=[WEATHER, ADD],
        tool_choice={"type": "function", "function": {"name": "add"}},
    )
    assert _valid(reply.choices[0].message.tool_calls[0], ADD)


def test_none_answers_in_plain_text(client):
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Say hello."}],
        tools=[WEATHER],
        tool_choice="none",
        max_tokens=12,
    )
    choice = reply.choices[0]
    assert choice.message.tool_calls is None and choice.message.content.strip()


CONTACT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "city": {"type": "string"},
        "age": {"type": "integer"},
    },
    "required": ["name", "city", "age"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text",
    [
        "Ada Brennock is 36 and lives in Lyon. Give her contact card.",
        "Ada Brennock a 36 ans et habite à Lyon. Donne sa fiche de contact.",
    ],
)
def test_a_reply_asked_for_as_json_follows_its_schema(client, text):
    """response_format json_schema (LangChain's with_structured_output) and json_object: the
    reply is one JSON object under a grammar, with no passage retrieved and nothing stored."""
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": text}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "contact", "schema": CONTACT, "strict": True},
        },
        max_tokens=60,
    )
    card = json.loads(reply.choices[0].message.content)
    jsonschema.validate(card, CONTACT)
    assert reply.choices[0].finish_reason == "stop" and "Lyon" in card["city"]
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": text}],
        response_format={"type": "json_object"},
        max_tokens=60,
    )
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_a_streamed_call_arrives_as_deltas(client):
    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Weather in Paris in fahrenheit?"}],
        tools=[WEATHER],
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    name, arguments, ids = "", "", set()
    for c in chunks:
        for d in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            ids.add(d.id) if d.id else None
            name += (d.function.name or "") if d.function else ""
            arguments += (d.function.arguments or "") if d.function else ""
    assert name == "get_weather" and len(ids) == 1
    jsonschema.validate(json.loads(arguments), WEATHER["function"]["parameters"])
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "tool_calls"
    assert chunks[-1].usage.completion_tokens > 0


def test_bind_tools_and_a_tool_message_round_trip(live):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two whole numbers."""
        return a * b

    model = ChatOpenAI(base_url=live.url + "/v1", api_key="unused", model="default", temperature=0)
    question = HumanMessage("Combien font 6 fois 7 ?")
    ai = model.bind_tools([multiply], tool_choice="multiply").invoke([question])
    [call] = ai.tool_calls
    assert call["name"] == "multiply" and set(call["args"]) == {"a", "b"}
    result = ToolMessage(str(multiply.invoke(call["args"])), tool_call_id=call["id"])
    final = model.bind_tools([multiply], tool_choice="none").invoke([question, ai, result])
    assert final.content.strip() and not final.tool_calls


def test_langchain_create_agent_runs_a_tool_and_answers(live):
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        return a + b

    model = ChatOpenAI(base_url=live.url + "/v1", api_key="unused", model="default", temperature=0)
    agent = create_agent(model, [add])
    state = agent.invoke(
        {"messages": [("user", "Use the add tool: what is 40 plus 2?")]},
        {"recursion_limit": 8},
    )
    messages = state["messages"]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert results and results[0].content == "42"
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls


@pytest.mark.parametrize(
    ("change", "param"),
    [
        (
            {"tools": [{**ADD, "function": {**ADD["function"], "parameters": {"type": "string"}}}]},
            "tools[0].function.parameters",
        ),
        (
            {"tools": [{**ADD, "function": {**ADD["function"], "name": "add two"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        (
            {"tools": [ADD], "tool_choice": {"type": "function", "function": {"name": "rm"}}},
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [ADD],
                "messages": [
                    {"role": "user", "content": "2 + 3?"},
                    {"role": "tool", "content": "5", "tool_call_id": "call_unknown"},
                ],
            },
            "messages[1].tool_call_id",
        ),
        ({"tools": [ADD], "tool_choice": "required", "max_tokens": 3}, "max_tokens"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "array"}},
                }
            },
            "response_format.json_schema.schema",
        ),
        ({"response_format": {"type": "json_object"}, "max_tokens": 1}, "max_tokens"),
        (
            {
                "tools": [WEATHER],
                "tool_choice": "required",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "Quel temps fait-il à Lyon ?"}],
            },
            "max_tokens",
        ),
    ],
)
def test_bad_tool_requests_are_400_naming_the_field(live, change, param):
    body = {"model": "default", "messages": [{"role": "user", "content": "2 + 3?"}], **change}
    response = httpx.post(live.url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    "question", ["How do I install the widget?", "Comment installer le widget ?"]
)
def test_chat_mode_agent_answers_over_the_api_with_its_steps(live, question):
    """The bot's own agent (chat.mode agent) behind the plain chat API: its tool calls come
    back in the chatforge extension, the first one the search for the question."""
    settings = live.bot.settings
    before = settings.chat.mode, settings.agent.max_steps
    settings.chat.mode, settings.agent.max_steps = "agent", 2
    try:
        body = {"model": "default", "messages": [{"role": "user", "content": question}]}
        response = httpx.post(live.url + "/v1/chat/completions", json=body, timeout=300)
    finally:
        settings.chat.mode, settings.agent.max_steps = before
    assert response.status_code == 200, response.text
    extension = response.json()["chatforge"]
    assert extension["mode"] == "agent" and extension["limit"] in ("", "max_steps")
    first = extension["steps"][0]
    assert (first["tool"], first["arguments"]["query"]) == ("search", question)
    assert any("apt install widget" in s["text"] for s in extension["sources"])
    assert response.json()["choices"][0]["message"]["content"].strip()
