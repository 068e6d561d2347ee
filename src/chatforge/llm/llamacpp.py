"""llama.cpp backend (llama-cpp-python): the default for GGUF files.

A model is loaded once per process and shared (keyed by path and context size). Prompts use the
GGUF's own chat template (``tokenizer.chat_template``, rendered by llama_cpp's
``Jinja2ChatFormatter``); a base model without one gets the plain transcript of
:func:`chatforge.llm.base.format_plain` and stops at the next ``User:`` turn.

Generation drives ``Llama.generate`` token by token rather than ``create_completion`` so that the
exact completion token count is known when streaming and a closed stream stops at once. Only
``temperature`` and ``top_p`` shape sampling (top-k and min-p are off); temperature 0 is greedy.
A mild repeat penalty (``REPEAT_PENALTY`` over the last 64 tokens) keeps tiny models from
looping on one sentence, as SmolLM2 does without it.
One generation runs at a time per model; concurrent callers wait their turn, unless the model
is opened with ``slots > 1`` (what ``chatforge serve`` does, setting ``server.parallel``): then
:class:`chatforge.llm.batch.BatchEngine` decodes up to that many completions together, for more
tokens per second in all (`bench/serve.py`). A sequence's text can then
depend on what else is in the batch (the arithmetic differs in the last bits), so only a lone
request repeats exactly.

The KV cache of the previous prompt is reused for a shared prefix. Sampling without a seed
reuses whatever matches. llama.cpp's results depend in the last bits on how a prompt is split
into batches, which can change even greedy output, so greedy and seeded requests always read
their instructions (the system prompt and earlier turns) as a batch of their own, kept from the
previous request when they match, and the rest after it: the same request gives the same text,
and a new question does not pay for reading the instructions again (on 2 cores, qwen's median
first token on bench/answers.py questions fell from 1.73 s to 1.42 s).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import os
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chatforge.errors import ModelError
from chatforge.llm.base import (
    LLM,
    PLAIN_STOP,
    FinishReason,
    Generation,
    GenOptions,
    Message,
    StopText,
    format_plain,
)

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

    from chatforge.llm.batch import BatchEngine

REPEAT_PENALTY = 1.1
"""llama.cpp's repeat penalty for every generation (1.0 turns it off)."""
_MODELS: dict[tuple[str, int, int], tuple[Llama, threading.Lock]] = {}
_ENGINES: dict[tuple[str, int, int, int, bool], tuple[Llama, BatchEngine]] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown, when llama_cpp's own finalizers would fail."""
    for llama, _ in _MODELS.values():
        llama.close()
    _MODELS.clear()
    for vocab, engine in _ENGINES.values():
        engine.close()
        vocab.close()
    _ENGINES.clear()


def _open_gguf(path: Path, **params: object) -> Llama:
    """``Llama(path, **params)``, with a missing or unreadable file reported in one line."""
    if not path.is_file():
        raise ModelError(f"no such model file: {path}")
    from llama_cpp import Llama

    try:
        return Llama(model_path=str(path), verbose=False, **params)
    except (ValueError, RuntimeError) as e:
        raise ModelError(
            f"cannot load {path} with llama.cpp ({e}); is it a complete GGUF file? "
            "re-download or re-export it"
        ) from e


def load_engine(
    path: str | Path, n_ctx: int, n_gpu_layers: int, slots: int, prompt_cache: bool = True
) -> tuple[Llama, BatchEngine]:
    """The process-wide batch engine for ``path``, and a vocabulary-only ``Llama`` beside it
    for tokenizing and the chat template (the weights are loaded once, by the engine)."""
    path = Path(path).resolve()
    key = (str(path), n_ctx, n_gpu_layers, slots, prompt_cache)
    with _LOAD_LOCK:
        if key not in _ENGINES:
            from chatforge.llm.batch import BatchEngine

            vocab = _open_gguf(path, vocab_only=True)
            engine = BatchEngine(
                path,
                n_ctx=n_ctx,
                slots=slots,
                n_gpu_layers=n_gpu_layers,
                prompt_cache=prompt_cache,
            )
            _ENGINES[key] = (vocab, engine)
        return _ENGINES[key]


def load_llama(
    path: str | Path, n_ctx: int = 4096, n_gpu_layers: int = -1
) -> tuple[Llama, threading.Lock]:
    """The process-wide ``Llama`` for ``path`` (and the lock that serialises its use).

    ``n_gpu_layers=-1`` offloads every layer when llama.cpp was built with GPU support and is
    ignored by a CPU build. Flash attention is on: on CPUs too it reads prompts about 20% faster
    (SmolLM2 and Gemma 3 on 2 cores, 600 tokens) and decodes no slower.
    """
    path = Path(path).resolve()
    key = (str(path), n_ctx, n_gpu_layers)
    with _LOAD_LOCK:
        if key not in _MODELS:
            threads = os.cpu_count() or 1
            llama = _open_gguf(
                path,
                n_ctx=n_ctx,
                n_batch=512,
                flash_attn=True,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
            )
            _MODELS[key] = (llama, threading.Lock())
        return _MODELS[key]


def schema_grammar(json_schema: str | None) -> LlamaGrammar | None:
    """llama.cpp's grammar for a JSON schema (llama_cpp's own converter), None without one."""
    if json_schema is None:
        return None
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json_schema, verbose=False)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ModelError(
            f"the JSON schema cannot be turned into a grammar ({e}); simplify it"
        ) from e


class LlamaCppLLM(LLM):
    """A GGUF model run in-process by llama.cpp."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        chat_template: Literal["auto", "gguf", "plain"] = "auto",
        name: str | None = None,
        n_gpu_layers: int = -1,
        repeat_penalty: float = REPEAT_PENALTY,
        slots: int = 1,
        prompt_cache: bool = True,
    ) -> None:
        self.path = Path(path)
        self.repeat_penalty = repeat_penalty
        self._engine: BatchEngine | None = None
        if slots > 1:
            self._llama, self._engine = load_engine(
                self.path, n_ctx, n_gpu_layers, slots, prompt_cache
            )
            self.context_window = n_ctx
        else:
            self._llama, self._lock = load_llama(self.path, n_ctx, n_gpu_layers)
            self.context_window = self._llama.n_ctx()
        self.name = name or self.path.stem
        template = self._llama.metadata.get("tokenizer.chat_template")
        if chat_template == "gguf" and not template:
            raise ModelError(f"{self.path} has no chat template; use chat_template='plain'")
        self._formatter = None
        if template and chat_template != "plain":
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(token: int) -> str:
                return self._llama._model.token_get_text(token) if token >= 0 else ""

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=text(self._llama.token_eos()),
                bos_token=text(self._llama.token_bos()),
                add_generation_prompt=True,
            )
        self.chat_template = "gguf" if self._formatter else "plain"

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=False))

    def format_chat(self, messages: Sequence[Message]) -> str:
        if self._formatter is None:
            return format_plain(messages)
        return self._formatter(messages=list(messages)).prompt

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        # A chat template writes its own BOS (if any); a plain transcript needs the model's.
        plain = self._formatter is None
        return self._llama.tokenize(
            self.format_chat(messages).encode(), add_bos=plain, special=not plain
        )

    def count_chat_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._prompt_tokens(messages))

    def _instructions(self, messages: Sequence[Message], prompt: list[int]) -> int:
        """How many leading tokens of `prompt` do not depend on the last message: the system
        prompt and earlier turns, the same from one question to the next."""
        if len(messages) < 2:
            return 0
        other = self._prompt_tokens([*messages[:-1], {**messages[-1], "content": ""}])
        shared = 0
        for a, b in zip(prompt, other, strict=False):
            if a != b:
                break
            shared += 1
        return min(shared, len(prompt) - 1)

    def _start_from(self, prefix: list[int]) -> None:
        """Put exactly `prefix` in the KV cache, read as one batch of its own: kept from the
        previous request when it began the same way, else read afresh.

        The instructions are then read the same way whether they were cached or not, and the
        rest of the prompt always starts at the same place, so a greedy request gives the same
        text every time while a new question skips reading the instructions again.
        """
        llama = self._llama
        n = len(prefix)
        if n and llama.n_tokens >= n and list(llama.input_ids[:n]) == prefix:
            llama.n_tokens = n  # generate() drops the cache past the shared prefix
            return
        llama.reset()
        if n:
            llama.eval(prefix)

    def _generate(
        self, messages: Sequence[Message], options: GenOptions
    ) -> Generator[str, None, Generation]:
        import llama_cpp

        llama = self._llama
        prompt = self._prompt_tokens(messages)
        room = self.context_window - len(prompt)
        if room < 1:
            raise ModelError(
                f"prompt is {len(prompt)} tokens but {self.name} holds {self.context_window}; "
                "shorten it or raise llm.n_ctx"
            )
        options = replace(options, max_tokens=min(options.max_tokens, room))
        plain = self._formatter is None
        stop = list(options.stop)
        stops = StopText([*stop, PLAIN_STOP] if plain else stop, lstrip=plain)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        completion: list[int] = []
        emitted = 0
        parts: list[str] = []
        finish: FinishReason = "length"
        prefix = prompt[: self._instructions(messages, prompt)] if self._engine is None else []
        with self._tokens(prompt, options, prefix) as tokens:
            for token in tokens:
                if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                    finish = "stop"
                    break
                completion.append(token)
                raw = llama.detokenize(completion, prev_tokens=prompt)
                piece = stops.push(decoder.decode(raw[emitted:]))
                emitted = len(raw)
                if piece:
                    parts.append(piece)
                    yield piece
                if stops.stopped:
                    finish = "stop"
                    break
                if len(completion) >= options.max_tokens:
                    break
        tail = stops.push(decoder.decode(b"", final=True)) + stops.flush()
        if tail:
            parts.append(tail)
            yield tail
        cached = getattr(tokens, "reused", 0)  # the batch engine's stream knows it
        return Generation("".join(parts), len(prompt), len(completion), finish, cached)

    @contextlib.contextmanager
    def _tokens(
        self, prompt: list[int], options: GenOptions, prefix: Sequence[int] = ()
    ) -> Iterator[Iterator[int]]:
        """The completion's tokens: from the batch engine, or from the shared context in turn.

        `prefix`, the prompt's leading tokens that hold the instructions, is read by a greedy
        or seeded request as a batch of its own (see `_start_from`)."""
        seed = options.seed
        drawn = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        temperature = options.temperature
        if self._engine is not None:
            tokens = self._engine.tokens(
                prompt, replace(options, seed=drawn), repeat_penalty=self.repeat_penalty
            )
            try:
                yield tokens
            finally:
                tokens.close()
            return
        llama = self._llama
        with self._lock:
            llama.set_seed(drawn)
            if temperature <= 0 or seed is not None:
                self._start_from(list(prefix))
            tokens = llama.generate(
                prompt,
                top_k=0,
                top_p=options.top_p,
                min_p=0.0,
                temp=max(temperature, 0.0),
                repeat_penalty=self.repeat_penalty,
                grammar=schema_grammar(options.json_schema),
            )
            try:
                yield tokens
            finally:
                tokens.close()
