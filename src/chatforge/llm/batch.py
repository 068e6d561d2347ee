"""Continuous batching for llama.cpp: several answers decoded together in one context.

On a CPU, one decoding step of a small model costs far less for eight sequences than eight
steps for one (`bench/serve.py` measures it), so a server that decodes its clients'
answers side by side produces several times the tokens per second of one that takes them in
turn. :class:`BatchEngine` owns one llama.cpp context whose KV cache holds up to ``slots``
sequences. A thread runs the loop: each step puts one token of every answer being written and
the next slice of any prompt still being read into a single batch (prompts go in slices, so a
long prompt never stalls the others for long), decodes it and samples each answer's next token
with its own sampler chain.

Requests are admitted first come, first served, when a slot is free and the KV cache has room for
the prompt plus ``max_tokens``; the cells an answer does not use are free again once it ends.
Closing a token stream ends its sequence at the next step.

Finished prompts stay in the KV cache (up to ``slots`` of them, least recently used first out)
and a new prompt starts from the longest one it begins with: the cells are shared, not copied,
and only the rest is read. Every prompt of a bot opens with the same instructions, follow-up
turns repeat the conversation so far, and a question asked again retrieves the same passages,
so much of each prompt need not be read again. Reading prompts is most of the work on a CPU.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatforge.errors import ModelError
from chatforge.llm.base import GenOptions

PENALTY_LAST_N = 64
"""Tokens the repeat penalty looks back over, as llama-cpp-python's default."""
_END = object()


CELLS_PER_SLOT = 1024
"""KV cells the pool holds per slot at least: a retrieval prompt (about 500 tokens), its answer
and its cached copy. With 8 slots and a pool of only the 4096-token window, admitting answers
evicted the cached prompts, and serving fell to half its speed (bench/serve.py)."""


@dataclass
class _Sequence:
    prompt: list[int]
    max_tokens: int
    sampler: Any
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    seq_id: int = -1
    fed: int = 0
    """Prompt tokens in the KV cache so far."""
    produced: int = 0
    last: int = -1
    """The latest sampled token, to be fed at the next step."""
    cancelled: bool = False
    reused: int = 0
    """Prompt tokens taken from a cached prompt at admission."""
    source: _Cached | None = None
    """The cached prompt whose first ``shared`` cells this sequence uses as its own start."""
    shared: int = 0

    @property
    def cells(self) -> int:
        return len(self.prompt) + self.max_tokens


@dataclass
class _Cached:
    """A finished prompt kept in the KV cache under its own sequence id."""

    seq_id: int
    tokens: list[int]
    sharers: list[_Sequence] = field(default_factory=list)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class BatchEngine:
    """Decode up to ``slots`` sequences of one GGUF model together; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int,
        slots: int,
        n_batch: int = 512,
        n_gpu_layers: int = -1,
        prompt_cache: bool = True,
        cells: int | None = None,
    ) -> None:
        """`n_ctx` bounds one sequence; `cells` is the KV pool that all of them share (default
        the larger of `n_ctx` and CELLS_PER_SLOT per slot)."""
        import llama_cpp as lc

        self._lc = lc
        self.slots = slots
        self.prompt_cache = prompt_cache
        self.n_ctx = n_ctx
        self.cells = cells or max(n_ctx, slots * CELLS_PER_SLOT)
        self.n_batch = n_batch
        threads = os.cpu_count() or 1
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        self._model = lc.llama_model_load_from_file(str(path).encode(), mparams)
        if not self._model:
            raise ModelError(f"cannot load {path} with llama.cpp; is it a complete GGUF file?")
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = self.cells
        cparams.n_batch = cparams.n_ubatch = n_batch
        cparams.n_seq_max = 2 * slots  # the answers being written and the cached prompts
        cparams.n_threads = cparams.n_threads_batch = threads
        # One pool of cells for all sequences (admission counts them), not n_ctx / slots each,
        # so one long answer may use what the others leave.
        cparams.kv_unified = True
        cparams.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_ENABLED  # as llamacpp.load_llama
        self._ctx = lc.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            lc.llama_model_free(self._model)
            raise ModelError(f"llama.cpp could not make a {self.cells}-cell KV cache for {path}")
        self._vocab = lc.llama_model_get_vocab(self._model)
        self._n_vocab = lc.llama_vocab_n_tokens(self._vocab)
        self._memory = lc.llama_get_memory(self._ctx)
        self._batch = lc.llama_batch_init(n_batch, 0, 1)
        self._cond = threading.Condition()
        self._waiting: deque[_Sequence] = deque()
        self._active: list[_Sequence] = []
        self._free_ids = list(range(2 * slots))
        self._cache: OrderedDict[int, _Cached] = OrderedDict()
        self._closed = False
        self.busiest = 0
        """The most sequences decoded together so far."""
        self.reused = 0
        """Prompt tokens taken from cached prompts instead of read, so far."""
        self._thread = threading.Thread(target=self._loop, name="chatforge-batch", daemon=True)
        self._thread.start()

    # -- the client side ------------------------------------------------------------------

    @property
    def active(self) -> int:
        """Sequences in the batch now (being read or written)."""
        with self._cond:
            return len(self._active)

    def tokens(
        self, prompt: Sequence[int], options: GenOptions, *, repeat_penalty: float
    ) -> Iterator[int]:
        """The sampled tokens of one completion, the end-of-generation token included.

        It stops after ``options.max_tokens`` tokens; closing the iterator frees its slot.
        ``options.stop`` is the caller's to apply, on text.
        """
        max_tokens = options.max_tokens
        if not prompt:
            raise ModelError("an empty prompt cannot be completed")
        if len(prompt) + max_tokens > self.n_ctx:
            raise ModelError(
                f"prompt ({len(prompt)} tokens) plus max_tokens ({max_tokens}) exceeds the "
                f"{self.n_ctx}-token context; shorten it or raise llm.n_ctx"
            )
        sampler = self._sampler(options, repeat_penalty)
        seq = _Sequence(list(prompt), max_tokens, sampler)
        with self._cond:
            if self._closed:
                self._lc.llama_sampler_free(seq.sampler)
                raise ModelError("the model has been closed")
            self._waiting.append(seq)
            self._cond.notify()
        return _TokenStream(seq, self._cancel)

    def _cancel(self, seq: _Sequence) -> None:
        with self._cond:
            seq.cancelled = True
            self._cond.notify()

    def _sampler(self, options: GenOptions, repeat_penalty: float) -> Any:
        from chatforge.llm.llamacpp import schema_grammar

        lc = self._lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        grammar = schema_grammar(options.json_schema)
        if grammar is not None:  # first, so that only tokens the grammar allows are sampled
            rules = grammar._grammar.encode()
            lc.llama_sampler_chain_add(
                chain, lc.llama_sampler_init_grammar(self._vocab, rules, b"root")
            )
        lc.llama_sampler_chain_add(
            chain,
            lc.llama_sampler_init_penalties(
                self._n_vocab, PENALTY_LAST_N, repeat_penalty, 0.0, 0.0
            ),
        )
        if options.temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:
            seed = options.seed or 0
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(options.top_p, 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(options.temperature))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        # The penalty sees only the answer's own tokens (llama_sampler_sample accepts each), as
        # llama-cpp-python's does: fed the prompt's tail, it penalised the end-of-turn token of
        # the chat template and the passages' words, and answers ran on.
        return chain

    def close(self) -> None:
        """Stop the loop, end every stream with an error, free the context and the model."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._thread.join()
        lc = self._lc
        lc.llama_batch_free(self._batch)
        lc.llama_free(self._ctx)
        lc.llama_model_free(self._model)

    # -- the engine thread ----------------------------------------------------------------

    def _admit(self) -> None:
        """Move waiting sequences in, in arrival order, while slots and cells last."""
        while self._waiting and len(self._active) < self.slots:
            seq = self._waiting[0]
            if seq.cancelled:
                self._waiting.popleft()
                self._lc.llama_sampler_free(seq.sampler)
                seq.out.put(_END)
                continue
            source, shared = self._best_prefix(seq.prompt)
            while self._used() + seq.cells - shared > self.cells and self._evict(keep=source):
                pass
            if source is not None and self._used() + seq.cells - shared > self.cells:
                self._drop(source)
                source, shared = None, 0
            if self._used() + seq.cells - shared > self.cells:
                break  # the next in line waits for room; nobody overtakes it
            self._waiting.popleft()
            seq.seq_id = self._free_ids.pop()
            if source is not None:
                self._lc.llama_memory_seq_cp(self._memory, source.seq_id, seq.seq_id, 0, shared)
                source.sharers.append(seq)
                self._cache.move_to_end(source.seq_id)
                seq.source, seq.shared, seq.fed, seq.reused = source, shared, shared, shared
                self.reused += shared
            self._active.append(seq)
            self.busiest = max(self.busiest, len(self._active))

    def _used(self) -> int:
        """KV cells taken or promised: cached prompts, and each answer's own cells."""
        return sum(len(c.tokens) for c in self._cache.values()) + sum(
            s.cells - s.shared for s in self._active
        )

    def _best_prefix(self, prompt: list[int]) -> tuple[_Cached | None, int]:
        """The cached prompt sharing the longest start with `prompt`, and that length.

        At least the last prompt token is always read, for the logits of the first answer token.
        """
        best, length = None, 0
        for cached in self._cache.values():
            n = min(_common_prefix(cached.tokens, prompt), len(prompt) - 1)
            if n > length:
                best, length = cached, n
        return best, length

    def _evict(self, keep: _Cached | None = None) -> bool:
        """Drop the least recently used cached prompt (one no answer starts from, if any)."""
        candidates = [c for c in self._cache.values() if c is not keep]
        if not candidates:
            return False
        self._drop(next((c for c in candidates if not c.sharers), candidates[0]))
        return True

    def _drop(self, cached: _Cached) -> None:
        self._lc.llama_memory_seq_rm(self._memory, cached.seq_id, -1, -1)
        for seq in cached.sharers:  # their first cells are now theirs alone
            seq.source, seq.shared = None, 0
        del self._cache[cached.seq_id]
        self._free_ids.append(cached.seq_id)

    def _end(self, seq: _Sequence, error: BaseException | None = None) -> None:
        lc = self._lc
        if seq.source is not None:
            seq.source.sharers.remove(seq)
            seq.source, seq.shared = None, 0
        self._active.remove(seq)
        lc.llama_sampler_free(seq.sampler)
        if self.prompt_cache and error is None and seq.fed == len(seq.prompt) and not self._closed:
            self._keep(seq)
        else:
            lc.llama_memory_seq_rm(self._memory, seq.seq_id, -1, -1)
            self._free_ids.append(seq.seq_id)
        seq.out.put(error if error is not None else _END)

    def _keep(self, seq: _Sequence) -> None:
        """Cache a finished sequence's prompt cells (its answer's cells are freed)."""
        lc = self._lc
        if any(c.tokens == seq.prompt for c in self._cache.values()):
            lc.llama_memory_seq_rm(self._memory, seq.seq_id, -1, -1)
            self._free_ids.append(seq.seq_id)
            return
        lc.llama_memory_seq_rm(self._memory, seq.seq_id, len(seq.prompt), -1)
        while len(self._cache) >= self.slots:
            self._evict()
        self._cache[seq.seq_id] = _Cached(seq.seq_id, seq.prompt)

    def _loop(self) -> None:
        try:
            while self._step():
                pass
        except Exception as e:  # a bug must not leave clients waiting for ever
            error = ModelError(f"generation failed: {e}")
            with self._cond:
                self._closed = True
                for seq in list(self._active):
                    self._end(seq, error)
                for seq in self._waiting:
                    seq.out.put(error)
                self._waiting.clear()
            raise

    def _step(self) -> bool:
        """One batch decoded and sampled; False once the engine is closed."""
        active = self._next_active()
        if active is None:
            return False
        sample_at = self._fill(active)
        failed = self._lc.llama_decode(self._ctx, self._batch)
        with self._cond:
            if failed:
                error = ModelError(f"llama.cpp failed to decode a batch (code {failed})")
                for seq in active:
                    self._end(seq, error)
                return True
            for seq, index in sample_at:
                token = self._lc.llama_sampler_sample(seq.sampler, self._ctx, index)
                seq.last = token
                seq.produced += 1
                seq.out.put(token)
                if (
                    seq.cancelled
                    or self._lc.llama_vocab_is_eog(self._vocab, token)
                    or seq.produced >= seq.max_tokens
                ):
                    self._end(seq)
        return True

    def _next_active(self) -> list[_Sequence] | None:
        """The sequences of the next step, waiting for one if need be; None once closed."""
        with self._cond:
            for seq in [s for s in self._active if s.cancelled]:
                self._end(seq)
            self._admit()
            while not self._active and not self._closed:
                self._cond.wait()
                self._admit()
            if not self._closed:
                return list(self._active)
            error = ModelError("the model was closed during generation")
            for seq in list(self._active):
                self._end(seq, error)
            for seq in self._waiting:
                self._lc.llama_sampler_free(seq.sampler)
                seq.out.put(error)
            self._waiting.clear()
            return None

    def _fill(self, active: list[_Sequence]) -> list[tuple[_Sequence, int]]:
        """Put one token of each answer being written, then prompt slices, into the batch.

        Returns where in the batch each sequence's next token is to be sampled.
        """
        batch = self._batch
        sample_at: list[tuple[_Sequence, int]] = []
        n = 0

        def add(seq: _Sequence, token: int, pos: int, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = pos
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq.seq_id
            batch.logits[n] = logits
            if logits:
                sample_at.append((seq, n))
            n += 1

        for seq in active:
            if seq.fed == len(seq.prompt):
                add(seq, seq.last, len(seq.prompt) + seq.produced - 1, True)
        for seq in active:
            if seq.fed < len(seq.prompt) and n < self.n_batch:
                take = min(len(seq.prompt) - seq.fed, self.n_batch - n)
                for i in range(seq.fed, seq.fed + take):
                    add(seq, seq.prompt[i], i, i == len(seq.prompt) - 1)
                seq.fed += take
        batch.n_tokens = n
        return sample_at


class _TokenStream(Iterator[int]):
    """One completion's tokens as the engine samples them; `close` (even before the first
    token) ends the sequence at the next step."""

    def __init__(self, seq: _Sequence, cancel: Callable[[_Sequence], None]) -> None:
        self._seq, self._cancel, self._done = seq, cancel, False

    @property
    def reused(self) -> int:
        """Prompt tokens taken from a cached prompt (known once the first token came)."""
        return self._seq.reused

    def __next__(self) -> int:
        if self._done:
            raise StopIteration
        item = self._seq.out.get()
        if item is _END or isinstance(item, BaseException):
            self._done = True
            if item is _END:
                raise StopIteration
            raise item
        return item

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._cancel(self._seq)
