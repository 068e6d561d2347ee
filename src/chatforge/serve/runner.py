"""Answers run off the event loop: one model, a few worker threads, a bounded first-come queue.

Answers start in arrival order (fair: nobody jumps the queue) on `workers` threads, as many as
the model writes at once (``server.parallel``: llama.cpp's batch engine decodes them together;
a model without one takes them in turn). Each answer's pieces are handed to its own unbounded
asyncio queue, so a slow reader never holds a worker up. A client that goes away cancels its
answer: a waiting one never starts, a running one stops at the next piece and is stored as
interrupted.

With a Limiter and `per_user` > 0, one user may have at most that many answers waiting or
being written, counted over every server process of the bot; more raise UserBusy.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatforge.chat.answer import Answer
from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.llm.base import Generation
    from chatforge.serve.ratelimit import Limiter

_END = object()


class Busy(ChatforgeError):
    """The queue is full; the client should retry later (HTTP 503 with Retry-After)."""


class UserBusy(Busy):
    """This user already has their share of answers in progress (HTTP 429 with Retry-After)."""


@dataclass
class RunnerStats:
    """Counters for /metrics: answers by outcome, and how many wait or run right now."""

    waiting: int = 0
    running: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0


class GenerationRunner:
    """Runs `Bot.stream` answers on `workers` threads; see the module docstring.

    `retrieval` is held while an answer retrieves and builds its prompt. Whoever changes the
    bot's documents beside the answers (background ingestion) takes it around each commit, so
    an answer never reads half of an update (a chunk found by search, gone before its vector
    is read).
    """

    def __init__(
        self,
        bot: Bot,
        max_queue: int = 32,
        workers: int = 1,
        *,
        limiter: Limiter | None = None,
        per_user: int = 0,
    ) -> None:
        self.bot = bot
        self.max_queue = max_queue
        self.limiter = limiter
        self.per_user = per_user
        self.stats = RunnerStats()
        self.retrieval = threading.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="chatforge-answer"
        )
        self._lock = threading.Lock()

    async def stream(
        self,
        question: str,
        *,
        user: str = "local",
        conversation_id: str | None = None,
        history: list[tuple[str, str]] | None = None,
        owner: str | None = None,
        **gen: Any,
    ) -> AsyncIterator[str | Answer]:
        """Text pieces, then the final Answer; raises before the first item on bad input.

        Awaiting this returns once the answer has started (retrieval done, first piece out), so
        a ChatforgeError such as an empty question or an unknown conversation is raised here,
        before an HTTP response has begun. Closing the returned iterator cancels the answer.
        `owner` is whose share of answers it counts against (default: `user`).
        """
        loop = asyncio.get_running_loop()
        slot = await self._admit(loop, owner or user)
        items: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(items.put_nowait, item)

        def work() -> None:
            if not self._start(cancel, slot):
                return
            outcome = "completed"
            error: BaseException | None = None
            try:
                with self.retrieval:
                    answer = self.bot.stream(question, user, conversation_id, history, **gen)
                with answer:
                    for item in answer:
                        if cancel.is_set():
                            outcome = "cancelled"
                            break  # leaving the with-block stores the partial answer
                        if isinstance(item, Answer):
                            with self._lock:
                                self.stats.prompt_tokens += item.usage["prompt_tokens"]
                                self.stats.cached_prompt_tokens += item.usage.get(
                                    "cached_tokens", 0
                                )
                                self.stats.completion_tokens += item.usage["completion_tokens"]
                        put(item)
            except BaseException as e:  # handed to the client's task, which re-raises it
                outcome, error = "failed", e
            finally:
                self._end(outcome, slot)  # before the client hears, so stats never lag behind
                if error is not None:
                    put(error)
                put(_END)

        await self._submit(loop, work, slot)
        try:
            first = await items.get()
        except BaseException:
            cancel.set()
            raise
        if isinstance(first, BaseException):
            raise first
        return self._rest(first, items, cancel)

    async def run(self, work: Callable[[], Generation], *, owner: str) -> Generation:
        """One generation that is not a bot answer (a client's function call), through the same
        queue, workers and per-user cap as the answers: the model writes nothing outside them.
        A client that leaves while it waits cancels it; once started, it runs to its end."""
        loop = asyncio.get_running_loop()
        slot = await self._admit(loop, owner)
        cancel = threading.Event()

        def guarded() -> Generation | None:
            if not self._start(cancel, slot):
                return None
            outcome = "failed"
            try:
                generation = work()
                outcome = "completed"
                with self._lock:
                    self.stats.prompt_tokens += generation.prompt_tokens
                    self.stats.cached_prompt_tokens += generation.cached_tokens
                    self.stats.completion_tokens += generation.completion_tokens
                return generation
            finally:
                self._end(outcome, slot)

        future = await self._submit(loop, guarded, slot)
        try:
            generation = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            raise
        assert generation is not None  # only a cancelled one is None, and nobody awaits it
        return generation

    async def _admit(self, loop: asyncio.AbstractEventLoop, owner: str) -> str | None:
        """Count one more answer waiting: UserBusy or Busy when there is no room. Returns the
        owner's answer slot (None without a per-user cap), for `_give_back` at the end."""
        slot = None
        if self.limiter is not None and self.per_user > 0:
            taking = loop.run_in_executor(None, self.limiter.answer_started, owner, self.per_user)
            try:
                slot = await asyncio.shield(taking)
            except asyncio.CancelledError:  # the client left: give the slot back once taken
                taking.add_done_callback(
                    lambda f: (
                        f.cancelled()
                        or f.exception()
                        or loop.run_in_executor(None, self._give_back, f.result())
                    )
                )
                raise
            if slot is None:
                with self._lock:
                    self.stats.rejected += 1
                raise UserBusy(
                    f"{owner!r} already has {self.per_user} answers waiting or being written "
                    "(server.max_queue_per_user); retry when one has finished"
                )
        with self._lock:
            full = self.stats.waiting >= self.max_queue
            self.stats.rejected += full
            self.stats.waiting += not full
            waiting = self.stats.waiting
        if full:
            await loop.run_in_executor(None, self._give_back, slot)
            raise Busy(f"the server is busy ({waiting} answers waiting); retry shortly")
        return slot

    async def _submit(
        self, loop: asyncio.AbstractEventLoop, job: Callable[[], Any], slot: str | None
    ) -> asyncio.Future:
        """Hand an admitted job to the workers; Busy (and nothing counted) once closed."""
        try:
            return loop.run_in_executor(self._executor, job)
        except RuntimeError:  # closed: the job never runs
            with self._lock:
                self.stats.waiting -= 1
            await loop.run_in_executor(None, self._give_back, slot)
            raise Busy("the server is shutting down; retry shortly") from None

    def _start(self, cancel: threading.Event, slot: str | None) -> bool:
        """On a worker: count a waiting job as running, or as cancelled if its client left
        while it waited (then its slot is given back and it must not run)."""
        with self._lock:
            self.stats.waiting -= 1
            cancelled = cancel.is_set()
            self.stats.cancelled += cancelled
            self.stats.running += not cancelled
        if cancelled:
            self._give_back(slot)
        return not cancelled

    def _end(self, outcome: str, slot: str | None) -> None:
        """On a worker: count a finished job as `outcome` and give its slot back."""
        with self._lock:
            self.stats.running -= 1
            setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        self._give_back(slot)

    def _give_back(self, slot: str | None) -> None:
        if slot is not None and self.limiter is not None:
            self.limiter.answer_ended(slot)

    @staticmethod
    async def _rest(
        first: Any, items: asyncio.Queue[Any], cancel: threading.Event
    ) -> AsyncIterator[str | Answer]:
        try:
            item = first
            while item is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
                item = await items.get()
        finally:
            cancel.set()

    def close(self) -> None:
        """Stop taking answers; the one running finishes (or sees its client gone)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
