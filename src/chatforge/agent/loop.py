"""The agent loop (ReAct): the model is asked for one JSON object per step, either a tool call
``{"tool": name, "arguments": {...}}`` or ``{"answer": text}``, decoded under a grammar built
from the tools' schemas (`step_schema`), so even a 0.5B model's calls always parse and name a
real tool with well-typed arguments. Each result goes back to the model as a message; the loop
stops at an answer; at `agent.max_steps` calls or `agent.max_seconds` the model is asked for
the answer alone from what its calls found (a fixed reply says so only if it gives none, or
made no call).

Numbers come from tools: a small model works sums out in its head and gets them wrong. A sum an
answer writes out ("12.50 + 7.25 = 29.75") is redone by the calculator; a number no result
holds gets one more step, for the calculator or the date tool only; an answer after a
computation must state its value, or the computation answers. The final answer is then checked
like any generated one: the passages its searches found are its sources, each [n] is verified
against passage n, claims that one of them holds get cited, and an answer none of them holds
(or only the question restated) becomes the best passage's quote.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from chatforge.agent.tools import NO_MEMORY, Tool, Toolbox
from chatforge.chat.answer import Answer
from chatforge.chat.extractive import extractive_answer
from chatforge.chat.facts import language_of
from chatforge.chat.prompt import REPLY_IN
from chatforge.chat.stream import AnswerStream, elapsed_ms
from chatforge.chat.tidy import cite, tidy
from chatforge.chat.turn import PreparedTurn, Turn
from chatforge.chat.verify import SentenceCheck, held_by, numbers, written_numbers
from chatforge.llm.base import GenOptions

if TYPE_CHECKING:
    from chatforge.chat.engine import ChatEngine

PROMPT = """You answer the user's question by calling tools, one step at a time.
Each reply is one JSON object: {{"tool": "<name>", "arguments": {{...}}}} to call a tool, or \
{{"answer": "<text>"}} once the tool results answer the question.
Tools:
{tools}
{first}When the question asks for a total, a sum, a difference or the price of several items, \
call calculator with the numbers the results give; when it asks for a date before or after \
another, or for a day of the week, call date; when it asks which documents you hold, call \
documents. Otherwise answer as soon as the results hold the answer; search again with \
other words only when they miss it. Cite a passage you use by its number, as [1]. Answer in \
the language of the question.
Example, for "When does the shop open?":
Result of search: [1] (hours.md) The shop opens at 9 and closes at 18.
{{"answer": "The shop opens at 9 [1]."}}
Example, for "What do 3 boxes cost?":
Result of search: [1] (prices.md) A box costs 4 euros.
{{"tool": "calculator", "arguments": {{"expression": "3 * 4"}}}}
Result of calculator: 12
{{"answer": "3 boxes cost 12 euros [1]."}}
Example, for "What is my favourite colour?":
Result of recall: - my favourite colour is green
{{"answer": "Your favourite colour is green."}}"""
FIRST = {
    True: "The search results for the question (and what the user told you, if it bears on it) "
    "come first.\n",
    False: "Look facts up with search before you answer.\n",
}
STOPPED = {
    "en": "I stopped after {n} tool calls without an answer (the limit is agent.{limit}); "
    "ask a narrower question or raise agent.{limit}.",
    "fr": "Je me suis arrêté après {n} appels d'outils sans réponse (la limite est "
    "agent.{limit}) ; posez une question plus précise ou augmentez agent.{limit}.",
}
ANSWER_NOW = """Answer the question now from the results above, citing passages by number \
([1]); if they do not give the answer, say what is missing."""
LAST = "That was your last tool call (the limit is agent.{limit}). " + ANSWER_NOW
NEXT = """Result of {step.tool}:
{step.result}
The question: {question}
"""
COMPUTES = ("calculator", "date")
"""Tools whose one call does the whole computation (an expression, a date and its offset): the
step after one may only answer, or a small model goes on feeding each result back in."""
FOLLOW = "Reply with the next tool call, or with the answer if the results above give it."
COMPUTE = """Your answer states {numbers}, which no result above gives. Compute it from the \
numbers in the results: call calculator with the expression, or date with the date and the days \
to add."""
_NUMBER = r"\d+(?:[.,]\d+)?"
"""A number as an answer writes it: "12.50", "12,50", "4312"."""
_OPERAND = re.compile(_NUMBER)
_UNIT = re.compile(r"[^\W\d_]+|[€$£%]")
_TERM = rf"[(]?\s*{_NUMBER}(?:\s*(?:[^\W\d_]{{1,12}}|[€$£]))?\s*[)]?"
_WORKED = re.compile(
    rf"(?P<expression>{_TERM}(?:\s*[-+*/×]\s*{_TERM})+)\s*=\s*(?P<result>{_NUMBER})"
)
_DECIMAL = re.compile(rf"-?{_NUMBER}")
CUT = "\n[cut: {shown} of {total} characters shown]"


@dataclass
class Step:
    """One tool call and what came of it."""

    n: int
    tool: str
    arguments: dict[str, Any]
    result: str
    error: bool = False
    cut: bool = False
    ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ms": round(self.ms, 1)}


ANSWER = {"type": "string", "minLength": 1}


def step_schema(
    tools: Sequence[Tool], *, answer: bool = True, answer_schema: dict[str, Any] = ANSWER
) -> dict[str, Any]:
    """One step's JSON schema: a call to one of `tools` with its arguments, or an answer (text,
    or what `answer_schema` says, for a client that asked for a structured reply)."""
    calls = [
        {
            "type": "object",
            "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    if answer:
        calls.append(
            {
                "type": "object",
                "properties": {"answer": answer_schema},
                "required": ["answer"],
                "additionalProperties": False,
            }
        )
    return calls[0] if len(calls) == 1 else {"oneOf": calls}


def system_prompt(tools: Iterable[Tool], search_first: bool = True) -> str:
    """The agent's instructions: the step format, the tools' signatures, how to use them."""
    listing = "\n".join(t.signature() for t in tools)
    return PROMPT.format(tools=listing, first=FIRST[search_first])


def cut_result(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to `limit` characters, saying so, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    note = CUT.format(shown=limit, total=len(text))
    return text[:limit] + note, True


class Agent:
    """One question answered by tool calls over a bot (see the module docstring)."""

    def __init__(self, engine: ChatEngine, *, save: bool = True) -> None:
        self.engine, self.save = engine, save
        self.settings = engine.settings.agent

    def run(
        self,
        question: str,
        user: str = "local",
        conversation_id: str | None = None,
        history: Sequence[tuple[str, str]] | None = None,
    ) -> Iterator[Step | Answer]:
        """Each step as it is taken, then the final Answer (mode agent, steps in it).

        A fact to remember or a question about the user goes the chat's own way (stored and
        confirmed, answered from memory), as in every other mode."""
        if self.engine.about_user(question, user):
            yield self.engine.ask(question, user, conversation_id, history, save=self.save)
            return
        started = time.perf_counter()
        turn = self.engine.admit(question, user, conversation_id, history)
        box = Toolbox(self.engine, turn.user, turn.conversation_id)
        tools = box.tools(self.settings.tools)
        system = system_prompt(tools.values(), self.settings.search_first)
        messages = [{"role": "system", "content": system}]
        for q, a in turn.history:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": turn.question})
        steps: list[Step] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
        for step in self._first_steps(tools, turn, started):
            steps.append(step)
            yield step
            call = {"tool": step.tool, "arguments": step.arguments}
            messages += self._after(steps, json.dumps(call), turn.question, started)
        may_call, text, limit = True, None, ""
        computes = [tools[n] for n in COMPUTES if n in tools]
        checked = not computes  # an answer's numbers are checked once, when it may compute
        while text is None:
            limit = self._limit(len(steps), started)
            if limit and not steps:
                break
            # the first step must call a tool; after a repeated call, a computation or at a
            # limit, the model may only answer
            calls = list(tools.values()) if may_call and not limit else []
            schema = step_schema(calls, answer=bool(steps) or not calls)
            reply, call = self._ask(messages, schema, usage)
            if "answer" in call:
                text = str(call["answer"]).strip() or None
                computed = (
                    checked or limit or any(s.tool in COMPUTES and not s.error for s in steps)
                )
                if text and not computed and "calculator" in tools:
                    text, redone = self._redo_sums(tools, text, len(steps))
                    steps += redone
                    yield from redone
                    computed = any(s.tool in COMPUTES and not s.error for s in steps)
                unheld = [] if computed else unheld_numbers(text, steps, turn.question)
                checked = True
                if not unheld:
                    break
                # a number no result gives was worked out in the model's head: a tool computes
                # it (the only step allowed), then the model answers again
                messages += [
                    {"role": "assistant", "content": reply},
                    {"role": "user", "content": COMPUTE.format(numbers=", ".join(unheld))},
                ]
                reply, call = self._ask(messages, step_schema(computes, answer=False), usage)
                text = None
            step = self._call(tools, call, len(steps) + 1)
            repeated = any((s.tool, s.arguments) == (step.tool, step.arguments) for s in steps)
            steps.append(step)
            yield step
            may_call = not repeated and (step.tool not in COMPUTES or step.error)
            messages += self._after(steps, reply, turn.question, started, not may_call)
        stopped = text is None
        if stopped:
            text = STOPPED[language_of(turn.question)].format(n=len(steps), limit=limit)
        answer = self._finish(turn, box, text, steps, usage, started, stopped=stopped)
        answer.limit = "" if stopped else limit
        yield answer

    def _redo_sums(self, tools: dict[str, Tool], text: str, done: int) -> tuple[str, list[Step]]:
        """The sums an answer works out ("12.50 + 7.25 = 29.75") done again by the calculator,
        each result in place of the stated one (with the answer's decimal comma, if any)."""
        steps: list[Step] = []
        for expression, (start, end) in reversed(worked_sums(text)):
            call = {"tool": "calculator", "arguments": {"expression": expression}}
            step = self._call(tools, call, done + len(steps) + 1)
            steps.append(step)
            if not step.error:
                value = step.result.replace(".", ",") if "," in text[start:end] else step.result
                text = text[:start] + value + text[end:]
        return text, steps

    def _first_steps(self, tools: dict[str, Tool], turn: Turn, started: float) -> list[Step]:
        """With `agent.search_first`, the calls made for the model before its first step: a
        search for the question, and a recall kept when the user has memories close to it."""
        budget = self.settings.max_steps - 1  # the model makes one call at least
        if not self.settings.search_first or budget < 1 or self._limit(0, started):
            return []
        steps: list[Step] = []
        if "search" in tools:
            search = {"tool": "search", "arguments": {"query": turn.question, "source": ""}}
            steps.append(self._call(tools, search, 1))
        if "recall" in tools and len(steps) < budget:
            recall = self._call(tools, {"tool": "recall", "arguments": {"query": turn.question}}, 2)
            if recall.result != NO_MEMORY:
                steps.append(replace(recall, n=len(steps) + 1))
        return steps

    def _after(
        self,
        steps: list[Step],
        reply: str,
        question: str,
        started: float,
        answer_only: bool = False,
    ) -> list[dict[str, str]]:
        """The messages that follow a call: the model's reply, then the result and what to do
        next."""
        last = self._limit(len(steps), started)
        follow = LAST.format(limit=last) if last else ANSWER_NOW if answer_only else FOLLOW
        result = NEXT.format(step=steps[-1], question=question) + follow
        result += "\n" + REPLY_IN[language_of(question)]
        return [{"role": "assistant", "content": reply}, {"role": "user", "content": result}]

    def _limit(self, done: int, started: float) -> str:
        """The limit reached ("max_steps", "max_seconds"), or ""."""
        if done >= self.settings.max_steps:
            return "max_steps"
        if time.perf_counter() - started > self.settings.max_seconds:
            return "max_seconds"
        return ""

    def _ask(
        self, messages: list[dict[str, str]], schema: dict[str, Any], usage: dict[str, int]
    ) -> tuple[str, dict[str, Any]]:
        """The model's next step, decoded under `schema`; text that is not a JSON object (a
        backend that ignores the schema) is taken as the answer."""
        engine = self.engine
        options = GenOptions(
            max_tokens=engine.settings.llm.max_tokens, json_schema=json.dumps(schema)
        )
        generation = engine.llm.generate(messages, options)
        usage["prompt_tokens"] += generation.prompt_tokens
        usage["completion_tokens"] += generation.completion_tokens
        usage["cached_tokens"] += generation.cached_tokens
        try:
            call = json.loads(generation.text)
        except ValueError:
            call = None
        if not isinstance(call, dict) or not ("answer" in call or "tool" in call):
            return generation.text, {"answer": generation.text}
        return generation.text, call

    def _call(self, tools: dict[str, Tool], call: dict[str, Any], n: int) -> Step:
        """Run one call; an unknown tool or a failing one is reported to the model as its
        result, so it can try something else."""
        name, args = str(call.get("tool")), call.get("arguments")
        args = args if isinstance(args, dict) else {}
        started = time.perf_counter()
        tool = tools.get(name)
        if tool is None:
            result, error = f"error: no tool named {name!r}; the tools are {', '.join(tools)}", True
        else:
            try:
                result, error = tool.run(args), False
            except Exception as e:  # any failure is the model's to see and work around
                result, error = f"error: {type(e).__name__}: {e}", True
        result, was_cut = cut_result(result, self.settings.max_result_chars)
        return Step(n, name, args, result, error, was_cut, elapsed_ms(started))

    def _finish(
        self,
        turn: Turn,
        box: Toolbox,
        text: str,
        steps: list[Step],
        usage: dict[str, int],
        started: float,
        stopped: bool,
    ) -> Answer:
        """The answer checked against the passages found, stored like any other turn."""
        engine, sources = self.engine, box.passages
        check, replaced = SentenceCheck(), False
        if sources and not stopped:
            # numbers the other tools gave (a sum, a date, a memory) are the answer's to state
            computed = set().union(*(numbers(s.result) for s in steps if s.tool != "search"))
            text = tidy(text, sources, turn.question)
            check = engine.verify(text, sources, checked=True, computed=computed)
            if check.attributions:
                text = cite(text, check.attributions)
                check = engine.verify(text, sources, checked=True, computed=computed)
            recalled = "\n".join(s.result for s in steps if s.tool == "recall" and not s.error)
            check.unsupported = [u for u in check.unsupported if not held_by(u, recalled)]
            last = steps[-1] if steps else None
            if last and (last.tool not in COMPUTES or last.error):
                last = None  # the computation the answer must state, if any
            if last and not states(text, last):
                # only the question restated, or a value other than the computation's own (a
                # small model miscopies "2025-04-11"): the computation answers
                text, check = computation(last), SentenceCheck()
            elif last:  # what the sentences stating the computed value say, the tool holds
                check.unsupported = [u for u in check.unsupported if not states(u, last)]
            elif not text or check.holds_nothing:  # as in chat: the verified quote, marked
                text = extractive_answer([engine.passage_to_quote(turn.question, sources)])
                check, replaced = engine.verify(text, sources, checked=False), True
        timings = {"retrieve_ms": 0.0, "first_token_ms": 0.0, "total_ms": elapsed_ms(started)}
        p = PreparedTurn(
            turn.question,
            turn.user,
            turn.conversation_id,
            turn.question,
            sources,
            [],
            None,
            text,
            timings,
            started,
            "agent",
        )
        message_id = engine.record(p, text, usage, interrupted=False) if self.save else 0
        return Answer(
            text=text,
            sources=sources,
            conversation_id=turn.conversation_id,
            message_id=message_id,
            usage=usage,
            timings=timings,
            query=turn.question,
            citations=check.citations,
            mode="agent",
            unsupported=check.unsupported,
            replaced=replaced,
            steps=[s.to_dict() for s in steps],
        )


def _as_operand(number: str) -> str:
    """A number as the calculator reads it: "12,50" is 12.50, "1,000" is 1000."""
    whole, _, part = number.replace(",", ".").partition(".")
    if not part:
        return whole
    return whole + part if "," in number and len(part) == 3 else f"{whole}.{part}"


def worked_sums(text: str) -> list[tuple[str, tuple[int, int]]]:
    """The sums an answer works out ("12.50 euros + 7.25 euros = 29.75"): each expression as
    the calculator reads it ("12.50 + 7.25"), and where the stated result stands."""
    found = []
    for m in _WORKED.finditer(text):
        bare = _UNIT.sub("", m.group("expression"))
        expression = " ".join(_OPERAND.sub(lambda n: _as_operand(n.group()), bare).split())
        found.append((expression, m.span("result")))
    return found


def unheld_numbers(text: str | None, steps: Sequence[Step], question: str) -> list[str]:
    """The numbers an answer states that neither the question nor any tool result holds."""
    held = numbers(question).union(*(numbers(s.result) for s in steps if not s.error))
    return [shown for digits, shown in written_numbers(text or "").items() if digits not in held]


def states(text: str, step: Step) -> bool:
    """Whether an answer states the value a calculator or date step computed (a number to
    within a rounding to cents, or the ISO date)."""
    value = step.result.split()[0]
    if step.tool == "date":
        return value in text
    try:
        want = float(value)
    except ValueError:  # not a real number ("(1+2j)"): nothing to compare
        return True
    found = (float(_as_operand(n)) for n in _DECIMAL.findall(text))
    return any(math.isclose(n, want, rel_tol=1e-9, abs_tol=0.0051) for n in found)


def computation(step: Step) -> str:
    """A computed step as an answer: the expression and its value, or the date."""
    if step.tool == "calculator":
        return f"{step.arguments.get('expression', '').strip()} = {step.result}"
    return step.result


class AgentStream(AnswerStream):
    """The agent's run as the chat engine streams answers: the answer's text, then the Answer
    (`steps` fills as the tools are called)."""

    def __init__(self, events: Iterator[Step | Answer]) -> None:
        self.answer: Answer | None = None
        self.steps: list[Step] = []
        self._it = self._events(events)

    def _events(self, events: Iterator[Step | Answer]) -> Iterator[str | Answer]:
        for event in events:
            if isinstance(event, Step):
                self.steps.append(event)
            else:
                self.answer = event
                yield event.text
                yield event


def agent_stream(
    engine: ChatEngine,
    question: str,
    user: str = "local",
    conversation_id: str | None = None,
    history: Sequence[tuple[str, str]] | None = None,
    *,
    save: bool = True,
) -> AgentStream:
    """The chat engine's stream in chat.mode agent (the bot hands it to its engine)."""
    return AgentStream(Agent(engine, save=save).run(question, user, conversation_id, history))
