"""Continuous batching: several completions decoded together by one llama.cpp context."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from chatforge.errors import ModelError
from chatforge.llm import GenOptions, open_llm
from chatforge.llm.batch import CELLS_PER_SLOT, BatchEngine

QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about cats.",
    "Explain photosynthesis briefly.",
    "List three prime numbers.",
]


def chat(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


@pytest.fixture(scope="module")
def batched(llm_cache):
    return open_llm("smollm2", n_ctx=1024, slots=4)


def test_concurrent_completions_are_decoded_together_and_each_is_whole(batched):
    results: dict[int, object] = {}

    def ask(i: int) -> None:
        results[i] = batched.generate(
            chat(QUESTIONS[i]), GenOptions(max_tokens=48, temperature=0.0)
        )

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert batched._engine.busiest >= 2  # they really shared batches
    assert sorted(results) == [0, 1, 2, 3]
    for g in results.values():
        assert g.text.strip() and 0 < g.completion_tokens <= 48
        assert g.finish_reason in ("stop", "length")
    assert batched._engine.active == 0


def test_a_lone_request_repeats_exactly_and_seeds_are_honoured(batched):
    first = batched.generate(chat(QUESTIONS[0]), GenOptions(max_tokens=24, temperature=0.0))
    assert (
        batched.generate(chat(QUESTIONS[0]), GenOptions(max_tokens=24, temperature=0.0)).text
        == first.text
    )
    a = batched.generate(chat(QUESTIONS[1]), GenOptions(max_tokens=24, temperature=0.9, seed=7))
    b = batched.generate(chat(QUESTIONS[1]), GenOptions(max_tokens=24, temperature=0.9, seed=7))
    assert a.text == b.text


def test_closing_a_stream_frees_its_slot_at_once(batched):
    stream = batched.stream(
        chat("Count from 1 to 200, one number per line."), GenOptions(max_tokens=400)
    )
    pieces = [next(stream) for _ in range(3)]
    assert all(pieces)
    stream.close()
    engine = batched._engine
    for _ in range(200):
        if engine.active == 0:
            break
        threading.Event().wait(0.01)
    assert engine.active == 0
    assert batched.generate(chat(QUESTIONS[3]), GenOptions(max_tokens=8)).completion_tokens > 0


def test_a_request_waits_for_room_in_the_kv_cache_then_runs(llm_cache):
    """Two prompts of 300 cells each in a 512-cell context: the second waits for the first."""
    from chatforge.models import resolve_builtin

    engine = BatchEngine(resolve_builtin("smollm2", "q8_0"), n_ctx=512, slots=2, cells=512)
    try:
        prompt = [1] + [28] * 250
        opts = GenOptions(max_tokens=50, seed=0)
        first = engine.tokens(prompt, opts, repeat_penalty=1.0)
        second = engine.tokens(prompt, opts, repeat_penalty=1.0)
        got_first = next(first)
        assert engine.active == 1  # no room for the second while the first holds 300 cells
        rest_first = [got_first, *first]
        rest_second = list(second)
        assert 0 < len(rest_first) <= 50 and 0 < len(rest_second) <= 50
        assert engine.busiest == 1
        with pytest.raises(ModelError, match="exceeds the 512-token context"):
            engine.tokens(prompt * 3, opts, repeat_penalty=1.0)
    finally:
        engine.close()
    with pytest.raises(ModelError, match="closed"):
        engine.tokens(prompt, opts, repeat_penalty=1.0)


def test_a_stream_closed_before_its_first_token_never_holds_a_slot(batched):
    engine = batched._engine
    prompt = batched._prompt_tokens(chat(QUESTIONS[2]))
    greedy = GenOptions(seed=0)
    engine.tokens(prompt, replace(greedy, max_tokens=300), repeat_penalty=1.0).close()
    assert list(
        engine.tokens(prompt, replace(greedy, max_tokens=4), repeat_penalty=1.0)
    )  # still served
    assert engine.active == 0


def test_a_lone_batched_answer_is_what_one_at_a_time_writes(llm_cache):
    """Same sampler as the one-at-a-time path: the repeat penalty sees the answer only, so the
    chat template's end-of-turn token and the passage words the prompt holds stay unpenalised.

    A fresh engine (slots=3 is this test's own): a cached prompt start, read in another batch,
    can move the logits by rounding and so change a greedy answer."""
    batched = open_llm("smollm2", n_ctx=1024, slots=3)
    single = open_llm("smollm2", n_ctx=1024)
    messages = chat(
        "Passages:\n[1] Install\nRun `apt install widget` to install the widget.\n\n"
        "Question: How do I install the widget? Cite [1]."
    )
    alone = single.generate(messages, GenOptions(max_tokens=80, temperature=0.0))
    together = batched.generate(messages, GenOptions(max_tokens=80, temperature=0.0))
    assert together.text == alone.text
    assert together.completion_tokens == alone.completion_tokens


def test_a_prompt_starting_like_a_finished_one_reads_only_the_rest(llm_cache):
    from chatforge.models import resolve_builtin

    engine = BatchEngine(resolve_builtin("smollm2", "q8_0"), n_ctx=1024, slots=2)
    opts = GenOptions(max_tokens=8, seed=0)
    try:
        first = [1, *range(500, 700)]
        assert list(engine.tokens(first, opts, repeat_penalty=1.0))
        assert engine.reused == 0
        # The same prompt again: all but its last token come from the cache.
        assert list(engine.tokens(first, opts, repeat_penalty=1.0))
        assert engine.reused == len(first) - 1
        # A prompt sharing the first 150 tokens reads only what follows them.
        other = first[:150] + list(range(900, 960))
        assert list(engine.tokens(other, opts, repeat_penalty=1.0))
        assert engine.reused == len(first) - 1 + 150
        assert engine.active == 0
    finally:
        engine.close()


def test_cached_prompts_make_way_when_the_kv_cache_is_full(llm_cache):
    """Five 300-token prompts through a 512-cell context: each finished one is cached, and the
    next evicts it rather than wait for ever; the cache never promises more cells than exist."""
    from chatforge.models import resolve_builtin

    engine = BatchEngine(resolve_builtin("smollm2", "q8_0"), n_ctx=512, slots=2, cells=512)
    opts = GenOptions(max_tokens=20, seed=0)
    try:
        for i in range(5):
            prompt = [1, *range(1000 + 400 * i, 1300 + 400 * i)]
            assert 0 < len(list(engine.tokens(prompt, opts, repeat_penalty=1.0))) <= 20
            assert engine._used() <= engine.cells
        assert engine.reused == 0
        assert len(engine._cache) == 1  # only the last fits beside the next prompt's room
    finally:
        engine.close()


def test_a_follow_up_answers_from_the_cached_cells_of_the_turn_before(llm_cache):
    """The secret word is only in the cells taken from the cache: if sharing them failed, the
    model could not name it."""
    llm = open_llm("smollm2", n_ctx=1024, slots=2)
    first = [{"role": "user", "content": "Remember this: the secret word is marmalade. Reply OK."}]
    llm.generate(first, GenOptions(max_tokens=10, temperature=0.0))
    before = llm._engine.reused
    follow_up = [
        *first,
        {"role": "assistant", "content": "OK"},
        {"role": "user", "content": "What is the secret word?"},
    ]
    answer = llm.generate(follow_up, GenOptions(max_tokens=20, temperature=0.0))
    assert llm._engine.reused - before == len(llm._prompt_tokens(first))
    assert "marmalade" in answer.text.lower()


def test_with_the_prompt_cache_off_every_prompt_is_read_whole(llm_cache):
    from chatforge.models import resolve_builtin

    path = resolve_builtin("smollm2", "q8_0")
    engine = BatchEngine(path, n_ctx=512, slots=2, prompt_cache=False)
    opts = GenOptions(max_tokens=4, seed=0)
    try:
        prompt = [1, *range(500, 600)]
        for _ in range(2):
            assert list(engine.tokens(prompt, opts, repeat_penalty=1.0))
        assert engine.reused == 0 and not engine._cache
    finally:
        engine.close()


def test_the_kv_pool_grows_with_the_slots_but_one_sequence_keeps_the_window(llm_cache):
    """Eight 1,000-token prompts fit side by side in a 4-slot pool, though the window is 1,024:
    the pool is what the slots share, the window what one prompt and its answer may take."""
    from chatforge.models import resolve_builtin

    engine = BatchEngine(resolve_builtin("smollm2", "q8_0"), n_ctx=1024, slots=4)
    greedy = GenOptions(seed=0)
    try:
        assert engine.cells == 4 * CELLS_PER_SLOT
        streams = [
            engine.tokens(
                [1, *range(2000 * i, 2000 * i + 900)],
                replace(greedy, max_tokens=8),
                repeat_penalty=1.0,
            )
            for i in range(4)
        ]
        firsts = [next(s) for s in streams]  # all four admitted: none waits for another
        assert len(firsts) == 4 and engine.busiest == 4
        for s in streams:
            s.close()
        with pytest.raises(ModelError, match="exceeds the 1024-token context"):
            list(engine.tokens([1] * 1000, replace(greedy, max_tokens=100), repeat_penalty=1.0))
    finally:
        engine.close()
