"""How well a bot answers: `Bot.ask` on labelled questions, the path `chatforge ask` takes.

Each question is asked with nothing stored (`save=False`), greedily, as a user with no
memories. Token F1 (ROUGE-1 F) and ROUGE-L F come from rouge-score against the question's
reference answer, where it has one; citation precision is the share of the passages an answer
cites that come from the labelled sources (and section); declined is whether the bot gave its
fixed "nothing in my documents" reply; latency is the answer's total time.
"""

from __future__ import annotations

import re
import statistics
from typing import TYPE_CHECKING, Any

from chatforge.evaluate.compare import EVAL_USER
from chatforge.evaluate.questions import Question, is_relevant

if TYPE_CHECKING:
    from chatforge.bot import Bot

METRICS = ("token_f1", "rouge_l", "citation_precision", "declined", "latency_ms")
_CITE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


def evaluate_answers(bot: Bot, questions: list[Question], max_tokens: int = 128) -> dict:
    """Ask each question; per-question scores and their means (blank where not measurable)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"])
    rows = []
    for q in questions:
        got = bot.ask(
            q.question, user=EVAL_USER, save=False, max_tokens=max_tokens, temperature=0.0, seed=0
        )
        text = _CITE.sub("", got.text).strip()
        cited = got.cited
        row: dict[str, Any] = {
            "line": q.line,
            "question": q.question,
            "expected": ", ".join(q.sources) or "(none: should decline)",
            "generated": q.generated,
            "kind": q.kind,
            "answer": got.text,
            "mode": got.mode,
            "declined": 1.0 if got.mode == "fixed" else 0.0,
            "citation_precision": (
                sum(is_relevant(q, s.hit) for s in cited) / len(cited) if cited else None
            ),
            "latency_ms": got.timings["total_ms"],
            "token_f1": None,
            "rouge_l": None,
        }
        if q.answer:
            s = scorer.score(q.answer, text)
            row.update(token_f1=s["rouge1"].fmeasure, rouge_l=s["rougeL"].fmeasure)
        rows.append(row)
    return {"metrics": answer_means(rows), "questions": rows}


def answer_means(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, Any] = {"n": len(rows)}
    for k in METRICS:
        vals = [r[k] for r in rows if r[k] is not None]
        out[k] = statistics.fmean(vals) if vals else None
    return out
