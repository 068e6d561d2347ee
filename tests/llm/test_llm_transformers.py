"""The transformers backend on the SmolLM2 GGUF, through the safetensors cache recipe."""

from __future__ import annotations

import json
import logging
import sys
import threading

import pytest

from chatforge.llm import GenOptions, open_llm
from chatforge.llm import transformers_backend as tb
from chatforge.llm.transformers_backend import TransformersLLM
from chatforge.models import resolve_builtin

CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]


@pytest.fixture(scope="module")
def smollm2_hf(llm_cache):
    return open_llm("smollm2", backend="transformers")


def test_gguf_is_converted_once_to_a_plain_folder(smollm2_hf, llm_cache):
    folder = smollm2_hf.folder
    assert folder.parent == llm_cache / "hf"
    assert folder.name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert not getattr(smollm2_hf._model, "is_quantized", False)
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns

    tb._MODELS.clear()
    again = TransformersLLM(resolve_builtin("smollm2"))
    assert again.folder == folder
    assert weights.stat().st_mtime_ns == before
    assert again.generate(CHAT, GenOptions(max_tokens=8)) == smollm2_hf.generate(
        CHAT, GenOptions(max_tokens=8)
    )


def test_tokenizer_matches_llama_cpp(smollm2_hf, smollm2_cpp):
    """The tokenizer rebuilt from the GGUF splits the chat prompt exactly as llama.cpp does."""
    prompt = smollm2_hf.format_chat(CHAT)
    assert prompt == smollm2_cpp.format_chat(CHAT)
    ids = smollm2_hf._encode(CHAT)["input_ids"][0].tolist()
    assert ids == smollm2_cpp._llama.tokenize(prompt.encode(), add_bos=False, special=True)
    assert smollm2_hf.count_chat_tokens(CHAT) == smollm2_cpp.count_chat_tokens(CHAT)


def test_dequantized_model_agrees_with_llama_cpp(smollm2_hf, smollm2_cpp):
    """Teacher-forced on llama.cpp's greedy reply, transformers picks the same next token.

    Both run the same Q4_1 weights (transformers dequantized to float32, llama.cpp on the fly
    with 8-bit activations), so free-running greedy text can drift after a near tie; checking
    the argmax at each position of one fixed continuation does not compound that drift. The
    reply is plain argmax too (no repeat penalty), as the logits compared carry none.
    """
    import torch

    from chatforge.llm.llamacpp import LlamaCppLLM

    plain = LlamaCppLLM(smollm2_cpp.path, name="smollm2", repeat_penalty=1.0)
    reply = plain.generate(STORY, GenOptions(max_tokens=32))
    prompt = smollm2_cpp._prompt_tokens(STORY)
    completion = smollm2_cpp._llama.tokenize(reply.text.encode(), add_bos=False)
    ids = torch.tensor([prompt + completion])
    with torch.inference_mode():
        logits = smollm2_hf._model(ids).logits[0]
    predicted = logits[len(prompt) - 1 : -1].argmax(-1).tolist()
    agree = sum(p == t for p, t in zip(predicted, completion, strict=True)) / len(completion)
    assert predicted[0] == completion[0]
    assert agree >= 0.9


def test_greedy_deterministic_and_stream_matches(smollm2_hf):
    g = smollm2_hf.generate(STORY, GenOptions(max_tokens=20))
    assert g.text.strip()
    stream = smollm2_hf.stream(STORY, GenOptions(max_tokens=20))
    assert "".join(stream) == g.text
    assert stream.generation == g


def test_seeded_sampling_is_reproducible(smollm2_hf):
    a = smollm2_hf.generate(STORY, GenOptions(max_tokens=16, temperature=0.9, seed=11))
    b = smollm2_hf.generate(STORY, GenOptions(max_tokens=16, temperature=0.9, seed=11))
    assert a.text == b.text


def test_max_tokens_and_stop(smollm2_hf):
    g = smollm2_hf.generate(STORY, GenOptions(max_tokens=5))
    assert 1 <= g.completion_tokens <= 5
    full = smollm2_hf.generate(STORY, GenOptions(max_tokens=30)).text
    stop = full.split()[3]
    cut = smollm2_hf.generate(STORY, GenOptions(max_tokens=30, stop=[stop]))
    assert cut.text == full[: full.index(stop)]
    assert cut.finish_reason == "stop"


def test_closing_a_stream_ends_the_generation_thread(smollm2_hf):
    stream = smollm2_hf.stream(STORY, GenOptions(max_tokens=300))
    next(stream)
    stream.close()
    assert not any(t.name == "chatforge-generate" for t in threading.enumerate())
    assert not smollm2_hf._lock.locked()


def test_auto_falls_back_to_transformers_without_llama_cpp(monkeypatch, caplog, smollm2_hf):
    """``sys.modules[name] = None`` makes ``import llama_cpp`` fail as if it were missing."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with caplog.at_level(logging.WARNING, logger="chatforge.llm"):
        llm = open_llm("smollm2")
    assert isinstance(llm, TransformersLLM)
    assert "llama_cpp is not installed" in caplog.text


def test_missing_peft_is_a_clear_error(monkeypatch, tmp_path, smollm2_hf):
    """Hides peft if installed, to check the message a user without it sees."""
    from chatforge.errors import ModelError

    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ModelError, match="pip install peft"):
        TransformersLLM(smollm2_hf.folder, adapter=tmp_path)
