"""An answer as it is written: text pieces, then the final Answer, stored however it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chatforge.chat import style
from chatforge.chat.answer import Answer
from chatforge.chat.facts import language_of
from chatforge.chat.tidy import tidy

if TYPE_CHECKING:
    from chatforge.chat.engine import ChatEngine
    from chatforge.chat.turn import PreparedTurn
    from chatforge.llm.base import Generation, GenOptions, Stream


class AnswerStream(Iterator["str | Answer"]):
    """Text pieces of an answer, then the final :class:`Answer` as the last item.

    Closing it early (or a Ctrl-C inside it) stores the partial answer marked interrupted and
    sets `answer`, so a caller can still show what was said.
    """

    def __init__(
        self, engine: ChatEngine, prepared: PreparedTurn, options: GenOptions, *, save: bool
    ) -> None:
        self.engine, self.prepared, self.save = engine, prepared, save
        self.answer: Answer | None = None
        self._it = self._run(options)

    def __next__(self) -> str | Answer:
        return next(self._it)

    def close(self) -> None:
        self._it.close()

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _finish(
        self, text: str, generation: Generation | None, interrupted: bool, question: str = ""
    ) -> Answer:
        self.answer = self.engine.finish(
            self.prepared,
            text,
            generation,
            interrupted=interrupted,
            save=self.save,
            question=question,
        )
        return self.answer

    def _written(self, text: str) -> bool:
        """Whether an answer being written, tidied, holds the `chat.sentences` sentences a
        short or steps answer keeps, and has begun the next."""
        p, n = self.prepared, self.engine.settings.chat.sentences
        return style.enough(tidy(text, p.sources, p.question), n) is not None

    def _run(self, options: GenOptions) -> Iterator[str | Answer]:
        p = self.prepared
        if p.fixed_reply is not None or p.prompt is None:
            text = p.fixed_reply or ""
            p.timings["first_token_ms"] = elapsed_ms(p.started)
            yield text
            yield self._finish(text, None, interrupted=False)
            return
        chat = self.engine.settings.chat
        text, cut = "", chat.shape != "prose"
        stream: Stream = self.engine.llm.stream(p.prompt.messages, options)
        generation: Generation | None = None
        try:
            for i, piece in enumerate(stream):
                if i == 0:
                    p.timings["first_token_ms"] = elapsed_ms(p.started)
                text += piece
                if cut and self._written(text):
                    stream.close()  # the answer's shape would cut what comes next
                    break
                yield piece
            else:
                generation = stream.generation
        except (KeyboardInterrupt, GeneratorExit):
            stream.close()
            self._finish(text, None, interrupted=True)
            raise
        question = ""
        if chat.check_question and text.strip():
            language = language_of(p.question)
            question = style.ask_check_question(self.engine.llm, text, language, options)
        if question:
            yield f"\n\n{question}"
        yield self._finish(text, generation, interrupted=False, question=question)


def elapsed_ms(since: float) -> float:
    """Milliseconds since `since` (a time.perf_counter() reading)."""
    return (time.perf_counter() - since) * 1000


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Sets timings[key] to the block's duration in milliseconds."""
    start = time.perf_counter()
    yield
    timings[key] = elapsed_ms(start)
