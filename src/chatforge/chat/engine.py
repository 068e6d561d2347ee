"""The chat engine: one turn from question to stored, cited answer.

A turn, step by step (`ChatEngine.prepare` lists them): admit the question (check it, read the
conversation's history); condense a follow-up with that history into a standalone query;
retrieve the passages whose cosine to the query reaches `chat.min_score` (and, for a prompt,
lies within `chat.score_gap` of the best passage's); trim them to the sentences that matter
(`chat.compress`); recall the user's memories; decide how to answer; build the prompt under the
token budget. Then the answer streams, each [n] is checked against passage n and each other
claim against all the passages shown; an answer none of whose claims holds, or one that stops
where its answer should be, is replaced by the best passage's quote (mode extractive), or by
the unknown reply when it names what the question asks about and no passage holds
(`ChatEngine.instead`). Question, answer and newly stated facts are stored in one transaction.
With nothing relevant, the profile's `unknown_answer` (in the question's language) is given
without calling the model; in extractive mode (`chat.mode`) the best passage is quoted instead
of calling it. A question about the user ("what's my name?") is answered from their memories in
every mode, with no passage (see :mod:`chatforge.chat.personal`). A turn stopped midway
(Ctrl-C, a closed stream) stores the partial answer marked `interrupted`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence, Set
from typing import TYPE_CHECKING, Any

from chatforge.chat import style
from chatforge.chat.answer import Answer, Source
from chatforge.chat.conversations import new_conversation_id
from chatforge.chat.extractive import extractive_answer, passage_to_quote, prompt_passages
from chatforge.chat.facts import extract_facts, language_of, only_facts, remember_request
from chatforge.chat.passages import clean_sources, compress, drop_headings
from chatforge.chat.personal import PersonalQuestion, answer_from_memory, question_about
from chatforge.chat.prompt import BuiltPrompt, build_prompt, check_room
from chatforge.chat.rewrite import condense, summarize
from chatforge.chat.stream import AnswerStream, elapsed_ms, timed
from chatforge.chat.tidy import cite, tidy, unfinished
from chatforge.chat.turn import Decision, PreparedTurn, Turn, check_user
from chatforge.chat.verify import SentenceCheck, asked_names_missing, check_answer
from chatforge.errors import ChatforgeError
from chatforge.llm.base import Generation, GenOptions
from chatforge.models import BUILTIN_MODELS
from chatforge.retrieve import check_query

if TYPE_CHECKING:
    from chatforge.chat.conversations import ConversationStore
    from chatforge.chat.memory import MemoryStore
    from chatforge.config import AnswerMode, GroundedMode, Settings
    from chatforge.embed import Embedder
    from chatforge.llm.base import LLM
    from chatforge.schema import Hit
    from chatforge.store.sqlite import SQLiteStore

log = logging.getLogger("chatforge.chat")

REMEMBERED = {
    "en": "Noted, I will remember that: {fact}.",
    "fr": "C'est noté, je m'en souviendrai : {fact}.",
}
NOTED = {"en": "Noted: {facts}.", "fr": "C'est noté : {facts}."}
GEN_OPTIONS = ("max_tokens", "temperature", "top_p", "seed", "stop")
"""The generation settings one answer may override."""


class ChatEngine:
    """Grounded, remembered conversations over one bot's documents.

    It is built from the bot's parts. The models come as callables that open them on first
    use, so a turn that needs none (a quote, a fixed reply, a refused question) loads none;
    `search` is the bot's hybrid search, `agent` the agent mode's stream. Settings are read
    at each turn, so a change to `settings` applies to the next one.
    """

    def __init__(
        self,
        settings: Settings,
        store: SQLiteStore,
        conversations: ConversationStore,
        memory: MemoryStore,
        *,
        search: Callable[[str], list[Hit]],
        embedder: Callable[[], Embedder],
        llm: Callable[[], LLM],
        agent: Callable[..., AnswerStream] | None = None,
    ) -> None:
        self.settings = settings
        self.agent = agent  # answers in chat.mode agent (chatforge.agent.loop.agent_stream)
        self.store = store
        self.conversations = conversations
        self.memory = memory
        self.search = search
        self._embedder = embedder
        self._llm = llm

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    @property
    def llm(self) -> LLM:
        return self._llm()

    def mode(self) -> GroundedMode:
        """The answering mode in force: `chat.mode`, with auto resolved for the configured model.

        auto quotes (extractive) for built-in models that do not read their passages and lets
        every other model generate.
        """
        mode = self.settings.chat.mode
        if mode != "auto":
            return mode
        builtin = BUILTIN_MODELS.get(self.settings.llm.model)
        return "extractive" if builtin is not None and not builtin.reads_context else "generate"

    def options(self, **gen: Any) -> GenOptions:
        """Sampling options for one answer: settings.llm defaults, overridden by `gen`."""
        unknown = set(gen) - set(GEN_OPTIONS)
        if unknown:
            raise ChatforgeError(
                f"unknown generation option(s) {', '.join(sorted(unknown))}; "
                f"use {', '.join(sorted(GEN_OPTIONS))}"
            )
        llm = self.settings.llm
        opts: dict[str, Any] = {"max_tokens": llm.max_tokens, "temperature": llm.temperature}
        opts.update({k: v for k, v in gen.items() if v is not None})
        opts["stop"] = tuple(opts.get("stop") or ())
        return GenOptions(**opts)

    # -- answering ------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: Sequence[tuple[str, str]] | None = None,
        *,
        save: bool = True,
        **gen: Any,
    ) -> Answer:
        """Answer from the bot's documents and the user's memories.

        `conversation_id` continues a stored conversation (a new one starts without it);
        `history` passes earlier (question, answer) turns instead, for callers that keep the
        conversation themselves. `gen` overrides settings.llm for this answer: max_tokens,
        temperature, top_p, seed, stop. The turn is stored, with the facts the user stated,
        unless `save` is False: then the answer takes exactly the same path (retrieval,
        trimming, prompt, model, citation check) and nothing is written (`message_id` is 0),
        which is how evaluations ask.
        """
        with self.stream(question, user, conversation_id, history, save=save, **gen) as s:
            for _ in s:
                pass
        assert s.answer is not None
        return s.answer

    def stream(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: Sequence[tuple[str, str]] | None = None,
        *,
        save: bool = True,
        **gen: Any,
    ) -> AnswerStream:
        """Like `ask`, yielding text pieces and then the final Answer as the last item.

        The question is prepared (and an explicit "remember that ..." stored) before this
        returns, so bad input fails here rather than in the middle of the stream. In chat.mode
        agent the agent answers, but for a turn `about_user`: that takes the memory path.
        """
        agent = self.agent if self.settings.chat.mode == "agent" else None
        if agent and not self.about_user(question, user):
            return agent(self, question, user, conversation_id, history, save=save)
        options = self.options(**gen)
        prepared = self.prepare(
            question, user, conversation_id, history, max_tokens=options.max_tokens
        )
        if save and prepared.remembered is not None:
            self.memory.add(
                prepared.user, prepared.remembered, "explicit", prepared.conversation_id
            )
        return AnswerStream(self, prepared, options, save=save)

    # -- before the model speaks ----------------------------------------------------------

    def prepare(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: Sequence[tuple[str, str]] | None = None,
        *,
        max_tokens: int | None = None,
    ) -> PreparedTurn:
        """The retrieval and the prompt `ask` would use, without answering or storing anything.

        `max_tokens` is the answer's share of the context window (default llm.max_tokens).
        """
        started = time.perf_counter()
        turn = self.admit(question, user, conversation_id, history)
        mode = self.mode()
        max_tokens = max_tokens or self.settings.llm.max_tokens
        if mode == "generate":
            system_prompt = self.settings.chat.system_prompt
            check_room(self.llm, turn.question, system_prompt=system_prompt, max_tokens=max_tokens)
        enabled = self.settings.memory.enabled
        fact = remember_request(turn.question) if enabled else None
        personal = self.personal(turn.question, turn.user) if fact is None else None
        timings = {"condense_ms": 0.0, "retrieve_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0}
        query, sources, memories = turn.question, [], []
        if personal is not None:
            reply, memories = answer_from_memory(personal, turn.question, self.memory, turn.user)
            decision = Decision("memory", reply, [])
        else:
            if fact is None:
                with timed(timings, "condense_ms"):
                    query = self.condense(turn)
                with timed(timings, "retrieve_ms"):
                    sources = self.retrieve(query, mode)
                sources = self.trim(query, sources, mode)
                memories = self.recall(turn.user, query)
            decision = self.decide(turn.question, query, mode, fact, sources, memories)
        prompt = None
        if decision.mode == "generate":
            prompt = self.build_prompt(turn, decision.sources, memories, max_tokens)
        return PreparedTurn(
            turn.question,
            turn.user,
            turn.conversation_id,
            query,
            prompt.sources if prompt else decision.sources,
            memories,
            prompt,
            decision.reply,
            timings,
            started,
            decision.mode,
            remembered=fact,
        )

    def admit(
        self,
        question: str,
        user: str,
        conversation_id: str | None,
        history: Sequence[tuple[str, str]] | None,
    ) -> Turn:
        """The checked question and user, the conversation (a new id if none), recent history.

        A conversation of another user is refused like a missing one; `history` given by the
        caller is used instead of the stored one.
        """
        if not question or not question.strip():
            raise ChatforgeError('the question is empty; ask something, e.g. "How do I ...?"')
        question = check_query(question)
        user = check_user(user)
        keep = self.settings.chat.history_turns
        if conversation_id is not None:
            self.conversations.get(conversation_id, user)
            if history is None:
                history = self.conversations.history(conversation_id, user, keep)
        else:
            conversation_id = new_conversation_id()
        return Turn(question, user, conversation_id, list(history or [])[-keep:] if keep else [])

    def condense(self, turn: Turn) -> str:
        """The query for retrieval: a follow-up rewritten to stand alone (`chat.condense`)."""
        if not turn.history or not self.settings.chat.condense:
            return turn.question
        return condense(self.llm, turn.question, turn.history)

    def retrieve(self, query: str, mode: GroundedMode) -> list[Source]:
        """The relevant passages; a prompt's are `prompt_passages` (near the best one)."""
        sources = self.relevant_sources(query)
        if mode != "generate":
            return sources
        return prompt_passages(query, sources, self.embedder, self.settings.chat.score_gap)

    def relevant_sources(self, query: str) -> list[Source]:
        """Retrieved passages whose cosine to the query reaches chat.min_score, in rank order."""
        if self.store.chunk_count() == 0:
            return []
        hits = self.search(query)
        if not hits:
            return []
        qvec = self.embedder.encode_query(query)
        scores = self.embedder.relevance(self.store.vectors_for([h.chunk_id for h in hits]) @ qvec)
        floor = self.settings.chat.min_score
        return [Source(0, h, float(s)) for h, s in zip(hits, scores, strict=True) if s >= floor]

    def trim(self, query: str, sources: list[Source], mode: GroundedMode) -> list[Source]:
        """The passages cleaned and, with `chat.compress`, cut to the sentences that matter for
        the query; for a prompt, without the sentences that only repeat their headings. A
        passage left empty is dropped."""
        if sources and self.settings.chat.compress:
            embedder = self.embedder
            compress(query, embedder.encode_query(query), sources, embedder)
        elif sources:
            clean_sources(sources)
        if mode == "generate":
            drop_headings(sources)
        return [s for s in sources if s.shown.strip()]

    def recall(self, user: str, query: str) -> list[str]:
        """The user's memories close to the query, as prompt lines (none with memory off)."""
        mem = self.settings.memory
        if not mem.enabled:
            return []
        return [
            m.prompt_line() for m in self.memory.search(user, query, mem.recall_k, mem.min_score)
        ]

    def about_user(self, question: str, user: str = "local") -> bool:
        """Whether the turn states a fact to remember or asks about the user (memory on)."""
        enabled = self.settings.memory.enabled
        return enabled and bool(remember_request(question) or self.personal(question, user))

    def personal(self, question: str, user: str) -> PersonalQuestion | None:
        """What `question` asks about `user` (memory on; see `question_about`)."""
        enabled = self.settings.memory.enabled
        return question_about(question, self.memory, user) if enabled else None

    def decide(
        self,
        question: str,
        query: str,
        mode: GroundedMode,
        fact: str | None,
        sources: list[Source],
        memories: list[str],
    ) -> Decision:
        """How to answer: a fixed reply (a fact noted, nothing relevant), a quote, or the model.

        Facts the user stated are acknowledged when the message says nothing else, or when
        nothing is relevant (instead of `unknown_answer`).
        """
        language = language_of(question)
        unknown = self.settings.chat.unknown_reply(language)
        if fact is not None:
            return Decision("fixed", REMEMBERED[language].format(fact=fact), [])
        stated = extract_facts(question) if self.settings.memory.enabled else []
        if stated and (only_facts(question) or not (sources or memories)):
            return Decision("fixed", NOTED[language].format(facts="; ".join(stated)), [])
        if not sources and not memories:
            return Decision("fixed", unknown, [])
        if mode == "extractive":
            if not sources:
                return Decision("fixed", unknown, [])
            quoted = _renumbered(self.passage_to_quote(query, sources), 1)
            return Decision("extractive", extractive_answer([quoted]) or unknown, [quoted])
        return Decision("generate", None, sources)

    def passage_to_quote(self, query: str, sources: list[Source]) -> Source:
        """The passage to quote (see `chatforge.chat.extractive.passage_to_quote`)."""
        return sources[0] if len(sources) == 1 else passage_to_quote(query, sources, self.embedder)

    def build_prompt(
        self, turn: Turn, sources: list[Source], memories: list[str], max_tokens: int
    ) -> BuiltPrompt:
        """The model's prompt: passages (renumbered as kept), memories and history in budget."""
        chat = self.settings.chat
        return build_prompt(
            self.llm,
            turn.question,
            system_prompt=chat.system_prompt,
            sources=sources,
            memories=memories,
            history=turn.history,
            max_tokens=max_tokens,
            best_last=chat.passage_order == "best_last",
            rules=style.rules(chat),
        )

    # -- after the model speaks -----------------------------------------------------------

    def finish(
        self,
        p: PreparedTurn,
        text: str,
        generation: Generation | None,
        *,
        interrupted: bool,
        save: bool = True,
        question: str = "",
    ) -> Answer:
        """Tidy a generated answer (see `chatforge.chat.tidy`), check every sentence and cite
        the uncited ones that hold, quote the best passage instead of a finished answer that
        holds nothing, store the turn (unless not `save`), and make the Answer. `question`,
        the check question (chat.check_question), follows the answer."""
        streamed, generated = text.strip(), p.mode == "generate"
        chat = self.settings.chat
        text = style.shape(tidy(streamed, p.sources, p.question), chat) if generated else streamed
        check = self.verify(text, p.sources, checked=generated)
        if generated and check.attributions:
            text = cite(text, check.attributions)
            check = self.verify(text, p.sources, checked=True)
        if generated and text and generation and generation.finish_reason == "length":
            text += " …"  # cut at llm.max_tokens: say so rather than end mid-sentence
        mode, replaced = p.mode, False
        instead = self.instead(p, check, text) if not interrupted else None
        if instead is not None:
            log.debug("the model's answer, replaced (%s): %r", instead[1], text)
            (text, mode), replaced = instead, True
            check = self.verify(text, p.sources, checked=False)
        if question and not replaced:
            text = f"{text}\n\n{question}"
        usage = p.usage(text, generation, lambda t: self.llm.count_tokens(t))  # model only if used
        p.timings["total_ms"] = elapsed_ms(p.started)
        message_id = self.record(p, text, usage, interrupted=interrupted) if save else 0
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
            citations=check.citations,
            mode=mode,
            unsupported=check.unsupported,
            replaced=replaced,
            edited=text != (f"{streamed}\n\n{question}" if question else streamed),
        )

    def verify(
        self, text: str, sources: list[Source], *, checked: bool, computed: Set[str] = frozenset()
    ) -> SentenceCheck:
        """Every [n] of the answer checked against passage n (marks the sources too) and, when
        `checked` (a generated answer), every claim against the passages (see `check_answer`)."""
        if not sources:
            return SentenceCheck()
        check = check_answer(text, sources, self.embedder, computed)
        if not checked:
            check.claims, check.unsupported = [], []
        wrong = [c.n for c in check.citations if not c.verified]
        if wrong or check.unsupported:
            unsupported = len(check.unsupported)
            log.info("citations not supported: %s; unsupported sentences: %d", wrong, unsupported)
        return check

    def instead(
        self, p: PreparedTurn, check: SentenceCheck, text: str
    ) -> tuple[str, AnswerMode] | None:
        """What replaces a generated answer: the unknown reply when a claim it could not back
        names what the question asks about and no passage holds (`asked_names_missing`: the
        passages are about something else, whatever its other sentences copied from them);
        else, for an answer that wrote nothing (0 tokens, or only what it echoed from the
        prompt), stops where its answer should be (`unfinished`) or holds nothing, the best
        passage's quote. None keeps the answer."""
        if not p.sources or p.mode != "generate":
            return None
        if asked_names_missing(check.unsupported, p.question, p.sources):
            return self.settings.chat.unknown_reply(language_of(p.question)), "fixed"
        if text and not unfinished(text) and not check.holds_nothing:
            return None
        quote = extractive_answer([self.passage_to_quote(p.query, p.sources)])
        return (quote, "extractive") if quote else None

    def record(
        self, p: PreparedTurn, text: str, usage: dict[str, int], *, interrupted: bool
    ) -> int:
        """Store question, answer and stated facts in one transaction; summarize every few
        turns (`memory.summarize_every`). Returns the answer's message id."""
        mem = self.settings.memory
        facts = extract_facts(p.question) if mem.enabled else []
        vecs = self.embedder.encode(facts) if facts else []
        with self.store.transaction() as db:
            message_id, turns = self.conversations.record_turn(
                db,
                p.conversation_id,
                p.user,
                p.question,
                text,
                sources=[s.to_dict() for s in p.sources],
                model=self.llm.name if p.prompt else "",
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
                timings=p.timings,
                interrupted=interrupted,
                query=p.query,
            )
            for fact, vec in zip(facts, vecs, strict=True):
                self.memory.insert(db, p.user, fact, "fact", p.conversation_id, vec)
        if mem.enabled and mem.summarize_every and turns % mem.summarize_every == 0:
            history = self.conversations.history(p.conversation_id, p.user, mem.summarize_every)
            summary = summarize(self.llm, history)
            if summary is not None:
                self.memory.add(p.user, summary, "summary", p.conversation_id)
        return message_id


def _renumbered(source: Source, n: int) -> Source:
    return Source(n, source.hit, source.relevance, text=source.text)
