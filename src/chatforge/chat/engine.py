"""The chat engine: one turn from question to stored, cited answer.

A turn: check the question; condense a follow-up with recent history into a standalone query;
retrieve and keep only passages whose cosine to the query reaches `chat.min_score` (and, for a
prompt, lies within `chat.score_gap` of the best passage's); clean them and cut them to the
sentences that matter (`chat.compress`); recall the user's memories; build the prompt under the
token budget; stream the answer; check each [n] against passage n; store question, answer and
newly stated facts in one transaction. With nothing relevant, the profile's
`unknown_answer` is given without calling the model; in extractive mode (`chat.mode`) the best
passage is quoted instead of calling it. A turn stopped midway (Ctrl-C, a closed stream) stores
the partial answer marked `interrupted`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatforge.chat.answer import Answer, Source
from chatforge.chat.conversations import new_conversation_id
from chatforge.chat.extractive import extractive_answer
from chatforge.chat.facts import extract_facts, remember_request
from chatforge.chat.passages import clean_sources, compress
from chatforge.chat.prompt import BuiltPrompt, build_prompt
from chatforge.chat.verify import verify_citations
from chatforge.errors import ChatforgeError
from chatforge.llm.base import GenOptions, Stream
from chatforge.models import BUILTIN_MODELS
from chatforge.retrieve import check_query

if TYPE_CHECKING:
    from chatforge.bot import Bot

log = logging.getLogger("chatforge.chat")

CONDENSE_PROMPT = (
    "Rewrite the user's last question as one standalone question that can be understood "
    "without the conversation. Reply with the question only."
)
CONDENSE_MAX_TOKENS = 48
SUMMARY_PROMPT = (
    "Summarize this conversation in one or two sentences: what the user wanted and any facts "
    "about the user. Reply with the summary only."
)
SUMMARY_MAX_TOKENS = 96
REMEMBERED = "Noted, I will remember that: {fact}."
NOTED = "Noted: {facts}."


@dataclass
class Prepared:
    """Everything decided before the model speaks: the query, the passages, the prompt."""

    question: str
    user: str
    conversation_id: str
    query: str
    sources: list[Source]
    memories: list[str]
    prompt: BuiltPrompt | None
    fixed_reply: str | None
    timings: dict[str, float]
    started: float
    mode: str = "generate"
    """generate, extractive, or fixed (a reply decided without the model)."""


class AnswerStream(Iterator["str | Answer"]):
    """Text pieces of an answer, then the final :class:`Answer` as the last item.

    Closing it early (or a Ctrl-C inside it) stores the partial answer marked interrupted and
    sets `answer`, so a caller can still show what was said.
    """

    def __init__(self, engine: ChatEngine, prepared: Prepared, gen: GenOptions) -> None:
        self.engine, self.prepared = engine, prepared
        self.answer: Answer | None = None
        self._it = self._run(gen)

    def __next__(self) -> str | Answer:
        return next(self._it)

    def close(self) -> None:
        self._it.close()

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, gen: GenOptions) -> Iterator[str | Answer]:
        p = self.prepared
        if p.fixed_reply is not None or p.prompt is None:
            text = p.fixed_reply or ""
            p.timings["first_token_ms"] = _ms(p.started)
            yield text
            self.answer = self.engine.finish(p, text, None, interrupted=False)
            yield self.answer
            return
        parts: list[str] = []
        llm = self.engine.bot.llm
        stream: Stream = llm.stream(p.prompt.messages, gen)
        try:
            for piece in stream:
                if not parts:
                    p.timings["first_token_ms"] = _ms(p.started)
                parts.append(piece)
                yield piece
        except (KeyboardInterrupt, GeneratorExit):
            stream.close()
            self.answer = self.engine.finish(p, "".join(parts), None, interrupted=True)
            raise
        self.answer = self.engine.finish(p, "".join(parts), stream.generation, interrupted=False)
        yield self.answer


class ChatEngine:
    """Grounded, remembered conversations over one bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @property
    def settings(self):  # noqa: ANN201
        return self.bot.settings

    def mode(self) -> str:
        """The answering mode in force: `chat.mode`, with auto resolved for the configured model.

        auto quotes (extractive) for built-in models that do not read their passages and lets
        every other model generate.
        """
        mode = self.settings.chat.mode
        if mode != "auto":
            return mode
        builtin = BUILTIN_MODELS.get(self.settings.llm.model)
        return "extractive" if builtin is not None and not builtin.reads_context else "generate"

    def gen_options(self, **gen: Any) -> GenOptions:
        """Sampling options for the answer: settings.llm defaults, overridden by `gen`."""
        allowed = {"max_tokens", "temperature", "top_p", "seed", "stop"}
        unknown = set(gen) - allowed
        if unknown:
            raise ChatforgeError(
                f"unknown generation option(s) {', '.join(sorted(unknown))}; "
                f"use {', '.join(sorted(allowed))}"
            )
        llm = self.settings.llm
        opts: dict[str, Any] = {"max_tokens": llm.max_tokens, "temperature": llm.temperature}
        opts.update({k: v for k, v in gen.items() if v is not None})
        opts["stop"] = tuple(opts.get("stop") or ())
        return GenOptions(**opts)

    # -- before the model speaks ---------------------------------------------------------

    def prepare(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        max_tokens: int | None = None,
        history: list[tuple[str, str]] | None = None,
    ) -> Prepared:
        """Condense, retrieve, recall and build the prompt (no answer is generated or stored).

        `history` gives earlier (question, answer) turns directly, for clients that keep the
        conversation themselves (the OpenAI API); otherwise it is read from `conversation_id`.
        """
        started = time.perf_counter()
        chat, mem = self.settings.chat, self.settings.memory
        if not question or not question.strip():
            raise ChatforgeError('the question is empty; ask something, e.g. "How do I ...?"')
        question = check_query(question)
        user = check_user(user)
        max_tokens = max_tokens or self.settings.llm.max_tokens
        conversations = self.bot.conversations
        if conversation_id is not None:
            conversations.get(conversation_id, user)
            if history is None:
                history = conversations.history(conversation_id, user, chat.history_turns)
        else:
            conversation_id = new_conversation_id()
        history = list(history or [])[-chat.history_turns :] if chat.history_turns else []
        mode = self.mode()
        if mode == "generate":
            build_prompt(
                self.bot.llm, question, system_prompt=chat.system_prompt, max_tokens=max_tokens
            )

        fact = remember_request(question) if mem.enabled else None
        if fact is not None:
            self.bot.memory.add(user, fact, "explicit", conversation_id)
        timings = {"condense_ms": 0.0, "retrieve_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0}
        query = question
        if history and chat.condense and fact is None:
            t = time.perf_counter()
            query = self.condense(question, history)
            timings["condense_ms"] = _ms(t)
        t = time.perf_counter()
        sources = [] if fact is not None else self.relevant_sources(query)
        if mode == "generate":
            sources = near_the_best(sources, chat.score_gap)
        timings["retrieve_ms"] = _ms(t)
        if sources and chat.compress:
            qvec = self.bot.embedder.encode_query(query)
            compress(query, qvec, sources, self.bot.embedder)
        elif sources:
            clean_sources(sources)
        sources = [s for s in sources if s.shown.strip()]
        memories: list[str] = []
        if mem.enabled and fact is None:
            recalled = self.bot.memory.search(user, query, mem.recall_k, mem.min_score)
            memories = [m.prompt_line() for m in recalled]

        fixed: str | None = None
        prompt: BuiltPrompt | None = None
        if fact is not None:
            fixed = REMEMBERED.format(fact=fact)
        elif not sources and not memories:
            stated = extract_facts(question) if mem.enabled else []
            fixed = NOTED.format(facts="; ".join(stated)) if stated else chat.unknown_answer
        elif mode == "extractive":
            if sources:
                sources = [_renumbered(self.passage_to_quote(query, sources), 1)]
                fixed = extractive_answer(sources) or chat.unknown_answer
            else:
                fixed = chat.unknown_answer
        else:
            prompt = build_prompt(
                self.bot.llm,
                question,
                system_prompt=chat.system_prompt,
                sources=sources,
                memories=memories,
                history=history,
                max_tokens=max_tokens,
                best_last=chat.passage_order == "best_last",
            )
            sources = prompt.sources
        return Prepared(
            question,
            user,
            conversation_id,
            query,
            sources,
            memories,
            prompt,
            fixed,
            timings,
            started,
            mode if fixed is None or mode == "extractive" and sources else "fixed",
        )

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        """A standalone version of a follow-up question, for retrieval.

        Falls back to "previous question + this one" when the model's rewrite looks like junk.
        """
        transcript = "\n".join(f"User: {q}\nAssistant: {_clip(a, 300)}" for q, a in history[-3:])
        messages = [
            {"role": "system", "content": CONDENSE_PROMPT},
            {
                "role": "user",
                "content": f"Conversation:\n{transcript}\n\nLast question: {question}\n\n"
                "Standalone question:",
            },
        ]
        fallback = f"{history[-1][0]} {question}"
        try:
            prompt_tokens = self.bot.llm.count_chat_tokens(messages)
            if prompt_tokens + CONDENSE_MAX_TOKENS > self.bot.llm.context_window:
                return fallback
            out = self.bot.llm.generate(
                messages, GenOptions(max_tokens=CONDENSE_MAX_TOKENS, temperature=0.0, seed=0)
            ).text
        except ChatforgeError as e:
            log.info("condensing failed (%s); using the previous question too", e)
            return fallback
        return _clean_condensed(out, question) or fallback

    def relevant_sources(self, query: str) -> list[Source]:
        """Retrieved passages whose cosine to the query reaches chat.min_score, in rank order."""
        store = self.bot.store
        if store.chunk_count() == 0:
            return []
        hits = self.bot.search(query)
        if not hits:
            return []
        qvec = self.bot.embedder.encode_query(query)
        scores = store.vectors_for([h.chunk_id for h in hits]) @ qvec
        floor = self.settings.chat.min_score
        return [Source(0, h, float(s)) for h, s in zip(hits, scores, strict=True) if s >= floor]

    def passage_to_quote(self, query: str, sources: list[Source]) -> Source:
        """The passage whose text and headings together are closest to the query.

        A heading says what its passage answers (a FAQ's question, a manual's topic), so it
        picks the right passage among close candidates more often than the fusion rank alone
        (bench/answers.py: users' own wordings of FAQ questions). The passage's own heading
        counts again on its own, beside the whole trail: on that set the quoted passage was the
        labelled section for 64 of 69 answered questions, against 62 with the trail alone.
        Ties keep retrieval's order.
        """
        if len(sources) == 1:
            return sources[0]
        embedder = self.bot.embedder
        qvec = embedder.encode_query(query)
        trails = [f"{s.hit.title} {s.hit.section}" for s in sources]
        own = [s.hit.section.rsplit(" > ", 1)[-1] or s.hit.title for s in sources]
        near = embedder.encode_recurring([*trails, *own]) @ qvec
        n = len(sources)
        scores = [s.relevance + near[i] + near[n + i] for i, s in enumerate(sources)]
        return sources[max(range(n), key=scores.__getitem__)]

    # -- answering ------------------------------------------------------------------------

    def stream(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: list[tuple[str, str]] | None = None,
        **gen: Any,
    ) -> AnswerStream:
        opts = self.gen_options(**gen)
        prepared = self.prepare(question, user, conversation_id, opts.max_tokens, history)
        return AnswerStream(self, prepared, opts)

    def ask(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: list[tuple[str, str]] | None = None,
        **gen: Any,
    ) -> Answer:
        with self.stream(question, user, conversation_id, history, **gen) as s:
            for _ in s:
                pass
        assert s.answer is not None
        return s.answer

    # -- after the model speaks -----------------------------------------------------------

    def finish(self, p: Prepared, text: str, generation: Any, *, interrupted: bool) -> Answer:
        """Mark citations, store the turn (and stated facts) in one transaction, summarize."""
        text = text.strip()
        citations = verify_citations(text, p.sources, self.bot.embedder) if p.sources else []
        unsupported = [c.n for c in citations if not c.verified]
        if unsupported:
            log.info("citations not supported by their passage: %s", unsupported)
        if generation is not None:
            usage = {
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": generation.completion_tokens,
                "cached_tokens": generation.cached_tokens,
            }
        else:
            usage = {
                "prompt_tokens": p.prompt.prompt_tokens if p.prompt else 0,
                "completion_tokens": self.bot.llm.count_tokens(text) if p.prompt and text else 0,
                "cached_tokens": 0,
            }
        p.timings["total_ms"] = _ms(p.started)
        mem = self.settings.memory
        facts = extract_facts(p.question) if mem.enabled else []
        vecs = self.bot.embedder.encode(facts) if facts else []
        memory = self.bot.memory
        with self.bot.store.transaction() as db:
            message_id, turns = self.bot.conversations.record_turn(
                db,
                p.conversation_id,
                p.user,
                p.question,
                text,
                sources=[s.to_dict() for s in p.sources],
                model=self.bot.llm.name if p.prompt else "",
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
                timings=p.timings,
                interrupted=interrupted,
                query=p.query,
            )
            for fact, vec in zip(facts, vecs, strict=True):
                memory.insert(
                    db,
                    p.user,
                    fact,
                    "fact",
                    p.conversation_id,
                    vec,
                )
        if mem.enabled and mem.summarize_every and turns % mem.summarize_every == 0:
            self.summarize(p.user, p.conversation_id, mem.summarize_every)
        return Answer(
            text=text,
            sources=p.sources,
            conversation_id=p.conversation_id,
            message_id=message_id,
            usage=usage,
            timings=dict(p.timings),
            interrupted=interrupted,
            query=p.query,
            memories=p.memories,
            prompt=p.prompt,
            citations=citations,
            mode=p.mode,
        )

    def summarize(self, user: str, conversation_id: str, turns: int) -> None:
        """Store the model's summary of the last `turns` turns as a memory (best effort)."""
        history = self.bot.conversations.history(conversation_id, user, turns)
        transcript = "\n".join(f"User: {q}\nAssistant: {_clip(a, 400)}" for q, a in history)
        messages = [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": transcript},
        ]
        llm = self.bot.llm
        while history and llm.count_chat_tokens(messages) + SUMMARY_MAX_TOKENS > llm.context_window:
            history = history[1:]
            transcript = "\n".join(f"User: {q}\nAssistant: {_clip(a, 400)}" for q, a in history)
            messages[1]["content"] = transcript
        if not history:
            return
        try:
            summary = llm.generate(
                messages, GenOptions(max_tokens=SUMMARY_MAX_TOKENS, temperature=0.0, seed=0)
            ).text
        except ChatforgeError as e:
            log.info("summarizing failed: %s", e)
            return
        summary = " ".join(summary.split())
        if len(re.findall(r"\w+", summary)) >= 4:
            self.bot.memory.add(user, summary, "summary", conversation_id)


def check_user(user: str) -> str:
    user = (user or "").strip()
    if not user or len(user) > 200:
        raise ChatforgeError("user id must be 1 to 200 characters, e.g. --user alice")
    return user


def _clean_condensed(text: str, question: str) -> str | None:
    """The first question in the model's rewrite, or None when there is none or it is an echo.

    Small models often echo the transcript around the rewrite; a standalone question is the
    first stretch of text ending in "?" once role labels are cut away.
    """
    text = re.sub(r"\b(?:user|assistant|standalone question|question)\s*:", "\n", text, flags=re.I)
    for m in re.finditer(r"[^.?!\n]*\?", text):
        candidate = " ".join(m.group(0).split()).strip(" \"'*-")
        words = re.findall(r"\w+", candidate.lower())
        if words == re.findall(r"\w+", question.lower()):
            return None  # an echo adds nothing the history could
        if len(words) >= 3 and len(candidate) <= max(300, 3 * len(question)):
            return candidate
    return None


def near_the_best(sources: list[Source], gap: float) -> list[Source]:
    """The passages whose relevance lies within `gap` of the best one, for a prompt.

    The others seldom hold the answer, distract a small model and cost prompt reading. On the
    Debian FAQ questions (bench/answers.py) a gap of 0.15 shortens generating prompts from 723 to
    493 tokens on average while the labelled section stays in 67 of 70 of them, as without it.
    Extractive mode keeps every candidate: its pick weighs headings beside relevance.
    """
    if not sources:
        return sources
    best = max(s.relevance for s in sources)
    return [s for s in sources if s.relevance >= best - gap]


def _renumbered(source: Source, n: int) -> Source:
    return Source(n, source.hit, source.relevance, text=source.text)


def _clip(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
