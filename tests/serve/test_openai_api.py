"""The OpenAI-compatible API, driven by the real `openai` package and LangChain's ChatOpenAI."""

from __future__ import annotations

import httpx
import openai
import pytest
from servesupport import LiveServer
from support import scripted_llm

QUESTION = "How do I install the widget on Debian?"


@pytest.fixture
def live(start_server):
    return start_server()


@pytest.fixture
def client(live):
    return openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0)


def test_a_whole_answer_has_usage_and_its_sources_in_the_extra_field(client, api_bot):
    reply = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": QUESTION}], max_tokens=8
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    extra = reply.model_extra["chatforge"]
    assert extra["sources"] and extra["sources"][0]["source"] == "guide/install.md"
    stored = api_bot.conversations.messages(extra["conversation_id"], "local")
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[-1].text == choice.message.content.strip()
    assert reply.model == api_bot.llm.name


def test_streaming_sends_openai_chunks_then_usage_then_done(client, live):
    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].model_extra["chatforge"]["sources"]
    assert text.strip()
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    # The raw wire format: `data: {...}` events ending in `data: [DONE]`.
    with httpx.stream(
        "POST",
        live.url + "/v1/chat/completions",
        json={
            "model": "default",
            "stream": True,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": QUESTION}],
        },
        timeout=60,
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[0].startswith('data: {"id": "chatcmpl-')
    assert events[-1] == "data: [DONE]"


@pytest.fixture
def scripted_server(serve_bot_dir, embedder, serve_llm):
    """A live server whose model writes a given reply (see `scripted_llm` for why)."""
    from chatforge.bot import Bot

    opened: list = []

    def start(reply: str):
        bot = Bot(serve_bot_dir, embedder=embedder, llm=scripted_llm(serve_llm, reply))
        bot.settings.chat.mode = "generate"
        bot.settings.memory.summarize_every = 0
        opened.append((bot, LiveServer(bot)))
        return openai.OpenAI(base_url=opened[-1][1].url + "/v1", api_key="x", max_retries=0), bot

    yield start
    for bot, live in opened:
        live.stop()
        bot.close()


def test_an_uncited_claim_no_passage_supports_is_listed_in_the_extra_field(scripted_server):
    """Scripted: the answer must carry an uncited destructive command."""
    reply = "Run `apt install widget` to install it on Debian [1]. Then run `rm -rf ~` first."
    client, _ = scripted_server(reply)
    answer = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": QUESTION}]
    )
    extra = answer.model_extra["chatforge"]
    assert answer.choices[0].message.content == reply
    assert extra["unsupported"] == ["Then run `rm -rf ~` first."]
    assert (extra["mode"], extra["replaced"], extra["text"]) == ("generate", False, None)


def test_a_streamed_answer_that_holds_nothing_ends_with_the_quote_to_show(scripted_server):
    """Scripted: the answer must be one no passage supports (the real model is not steerable)."""
    reply = "Zebras love chocolate [1]. Penguins fly south every winter."
    client, bot = scripted_server(reply)
    chunks = list(
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    extra = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    extra = extra.model_extra["chatforge"]
    assert streamed.strip() == reply
    assert extra["replaced"] is True and extra["mode"] == "extractive"
    assert "apt install widget" in extra["text"] and "Zebras" not in extra["text"]
    stored = bot.conversations.messages(extra["conversation_id"], "local")
    assert stored[-1].text == extra["text"]


def test_history_from_messages_and_generation_options(client, api_bot):
    reply = client.chat.completions.create(
        model=api_bot.llm.name,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What port does the widget daemon use?"},
            {"role": "assistant", "content": "Port 7341 [1]."},
            {"role": "user", "content": [{"type": "text", "text": "How do I change it?"}]},
        ],
        max_tokens=6,
        temperature=0.0,
        stop=["\n\n"],
        seed=1,
    )
    extra = reply.model_extra["chatforge"]
    assert reply.choices[0].message.content
    stored = api_bot.conversations.messages(extra["conversation_id"], "local")
    assert stored[0].text == "How do I change it?"


def test_models_and_an_unknown_model(client, api_bot):
    ids = [m.id for m in client.models.list()]
    assert ids == [api_bot.llm.name, api_bot.settings.embed.model]
    assert client.models.retrieve("default").id == api_bot.llm.name
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    error = e.value.body
    assert error["code"] == "model_not_found" and "gpt-4o" in error["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_embeddings_match_the_bots_embedder(client, api_bot):
    result = client.embeddings.create(model="default", input=["zebra migration", "apt purge"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.model == api_bot.settings.embed.model
    expected = api_bot.embedder.encode(["zebra migration"])[0]
    got = result.data[0].embedding
    assert len(got) == len(expected)
    assert sum(a * b for a, b in zip(got, expected, strict=True)) > 0.999
    assert result.usage.prompt_tokens > 0
    # The openai package asks for base64 by default when numpy is installed; plain floats too.
    floats = client.embeddings.create(model="default", input="x", encoding_format="float")
    assert len(floats.data[0].embedding) == len(expected)


def test_langchain_chat_openai_against_the_server(live):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=live.url + "/v1", api_key="unused", model="default", max_tokens=8, max_retries=0
    )
    reply = llm.invoke(QUESTION)
    assert reply.content and reply.usage_metadata["output_tokens"] > 0
    pieces = list(llm.stream(QUESTION))
    assert "".join(p.content for p in pieces).strip()


def test_a_repeated_question_takes_its_prompt_from_the_cache(api_bot):
    """With the batch engine `chatforge serve` opens (two slots here) in place of the session's
    one-at-a-time model, the second identical request reads only its prompt's last token."""
    from chatforge.bot import Bot
    from chatforge.llm import open_llm

    batched = open_llm("smollm2", n_ctx=2048, slots=2)
    live = LiveServer(Bot(api_bot.folder, api_bot.settings, embedder=api_bot.embedder, llm=batched))
    try:
        client = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0)
        ask = [{"role": "user", "content": QUESTION}]
        first, second = (
            client.chat.completions.create(model="default", messages=ask, max_tokens=8).usage
            for _ in range(2)
        )
        assert second.prompt_tokens == first.prompt_tokens
        assert second.prompt_tokens_details.cached_tokens == second.prompt_tokens - 1
        metrics = httpx.get(live.url + "/metrics").text
        line = next(x for x in metrics.splitlines() if 'kind="prompt_cached"' in x)
        assert float(line.split()[-1]) >= second.prompt_tokens - 1
    finally:
        live.stop()
