"""The llama.cpp backend on the real SmolLM2 and Gemma 3 built-ins."""

from __future__ import annotations

import pytest

from chatforge.errors import ModelError
from chatforge.llm import GenOptions, open_llm
from chatforge.llm.llamacpp import LlamaCppLLM

CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]


def test_builtin_opens_with_its_gguf_template(smollm2_cpp):
    assert isinstance(smollm2_cpp, LlamaCppLLM)
    assert smollm2_cpp.name == "smollm2"
    assert smollm2_cpp.chat_template == "gguf"
    assert smollm2_cpp.context_window == 4096
    prompt = smollm2_cpp.format_chat(CHAT)
    assert CHAT[0]["content"] in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_model_is_loaded_once_per_process(smollm2_cpp):
    assert open_llm("smollm2")._llama is smollm2_cpp._llama


def test_greedy_is_deterministic(smollm2_cpp):
    first = smollm2_cpp.generate(CHAT, GenOptions(max_tokens=24))
    assert first.text.strip()
    assert smollm2_cpp.generate(CHAT, GenOptions(max_tokens=24)) == first


def test_seeded_sampling_is_reproducible(smollm2_cpp):
    a = smollm2_cpp.generate(STORY, GenOptions(max_tokens=24, temperature=0.9, seed=7))
    b = smollm2_cpp.generate(STORY, GenOptions(max_tokens=24, temperature=0.9, seed=7))
    assert a.text == b.text


def test_max_tokens_is_respected(smollm2_cpp):
    g = smollm2_cpp.generate(STORY, GenOptions(max_tokens=5))
    assert 1 <= g.completion_tokens <= 5
    if g.finish_reason == "length":
        assert g.completion_tokens == 5


def test_stop_string_cuts_the_text_before_it(smollm2_cpp):
    full = smollm2_cpp.generate(STORY, GenOptions(max_tokens=40)).text
    words = full.split()
    assert len(words) > 4
    stop = words[3]
    cut = smollm2_cpp.generate(STORY, GenOptions(max_tokens=40, stop=[stop]))
    assert cut.text == full[: full.index(stop)]
    assert cut.finish_reason == "stop"


def test_chat_tokens_match_llama_cpp_own_chat_completion(smollm2_cpp):
    """Our template + tokenization give the prompt llama-cpp-python's chat handler builds."""
    messages = [{"role": "system", "content": "Be brief."}, *CHAT]
    ours = smollm2_cpp.count_chat_tokens(messages)
    theirs = smollm2_cpp._llama.create_chat_completion(messages, max_tokens=1)["usage"]
    assert ours == theirs["prompt_tokens"]
    assert smollm2_cpp.generate(messages, GenOptions(max_tokens=2)).prompt_tokens == ours
    assert smollm2_cpp.count_tokens("hello world") == 2


def test_stream_pieces_join_to_generate_text(smollm2_cpp):
    stream = smollm2_cpp.stream(STORY, GenOptions(max_tokens=30))
    pieces = list(stream)
    expected = smollm2_cpp.generate(STORY, GenOptions(max_tokens=30))
    assert len(pieces) > 1
    assert "".join(pieces) == expected.text
    assert stream.generation == expected


def test_closing_a_stream_stops_generation(smollm2_cpp):
    prompt_tokens = smollm2_cpp.count_chat_tokens(STORY)
    with smollm2_cpp.stream(STORY, GenOptions(max_tokens=200)) as stream:
        next(stream)
        next(stream)
    assert stream.generation is None
    assert smollm2_cpp._llama.n_tokens <= prompt_tokens + 4
    assert not smollm2_cpp._lock.locked()
    assert smollm2_cpp.generate(CHAT, GenOptions(max_tokens=3)).completion_tokens >= 1


def test_prompt_longer_than_context_is_a_model_error(smollm2_cpp):
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(ModelError, match="n_ctx"):
        smollm2_cpp.generate(huge, GenOptions(max_tokens=2))


def test_gemma3_builtin_uses_the_plain_template():
    gemma = open_llm("gemma3", n_ctx=1024)
    assert gemma.chat_template == "plain"
    assert gemma.format_chat(CHAT).endswith("Assistant:")
    g = gemma.generate(CHAT, GenOptions(max_tokens=16))
    assert g.text.strip()
    assert "User:" not in g.text
    assert g.prompt_tokens == gemma.count_chat_tokens(CHAT)
    assert 1 <= g.completion_tokens <= 16
