"""The generation runner: order, bad input before streaming, cancellation, a full queue."""

from __future__ import annotations

import asyncio

import pytest

from chatforge.chat.answer import Answer
from chatforge.errors import ChatforgeError
from chatforge.serve.runner import Busy, GenerationRunner

QUESTION = "How do I install the widget on Debian?"


async def _collect(runner: GenerationRunner, user: str) -> list:
    return [item async for item in await runner.stream(QUESTION, user=user)]


def test_concurrent_answers_all_complete_and_each_ends_with_its_answer(serve_bot):
    runner = GenerationRunner(serve_bot)

    async def main():
        return await asyncio.gather(*(_collect(runner, f"u{i}") for i in range(3)))

    results = asyncio.run(main())
    for i, items in enumerate(results):
        answer = items[-1]
        assert isinstance(answer, Answer) and answer.text
        # the pieces are the model's words; the answer is them, or their tidied, cited form
        assert answer.edited or "".join(items[:-1]).strip() == answer.text
        assert serve_bot.conversations.list(f"u{i}")[0].id == items[-1].conversation_id
    assert runner.stats.completed == 3 and runner.stats.waiting == runner.stats.running == 0
    runner.close()


def test_bad_input_raises_before_the_first_piece(serve_bot):
    runner = GenerationRunner(serve_bot)
    with pytest.raises(ChatforgeError, match="empty"):
        asyncio.run(runner.stream("   "))
    with pytest.raises(ChatforgeError):
        asyncio.run(runner.stream(QUESTION, conversation_id="no-such-conversation"))
    assert runner.stats.failed == 2
    runner.close()


def test_closing_the_stream_cancels_and_stores_the_partial_answer(serve_bot):
    runner = GenerationRunner(serve_bot)
    serve_bot.settings.llm.max_tokens = 64
    serve_bot.settings.chat.mode = "generate"  # the model streams pieces (a quote is one piece)

    async def main():
        stream = await runner.stream(QUESTION, user="quitter")
        first = await anext(stream)
        await stream.aclose()
        return first

    first = asyncio.run(main())
    runner.close()
    runner._executor.shutdown(wait=True)
    assert isinstance(first, str)
    assert runner.stats.cancelled == 1
    conversation = serve_bot.conversations.list("quitter")[0]
    stored = serve_bot.conversations.messages(conversation.id, "quitter")[-1]
    assert stored.interrupted


def test_a_full_queue_is_refused_with_busy(serve_bot):
    runner = GenerationRunner(serve_bot, max_queue=0)
    with pytest.raises(Busy, match="busy"):
        asyncio.run(runner.stream(QUESTION))
    assert runner.stats.rejected == 1
    runner.close()
