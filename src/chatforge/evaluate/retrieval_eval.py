"""How well a bot finds: its own search (`Bot.search`, as `ask` retrieves) on labelled questions.

Metrics come from ir-measures (trec_eval's definitions) over chunk ids: a chunk is relevant when
its source and section match the question's labels (chatforge.evaluate.questions). hit@k is
trec_eval's success@k (a relevant chunk in the first k), recall@k the share of the relevant
chunks in the first k, MRR@10 the reciprocal rank of the first relevant chunk, nDCG@10 with
binary gains. Each metric is the mean over questions.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from chatforge.errors import ChatforgeError
from chatforge.evaluate.questions import Question, is_relevant

if TYPE_CHECKING:
    from chatforge.bot import Bot

DEPTH = 10
"""Hits read per question: the deepest cutoff of the metrics."""
METRICS = ("hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def _measures() -> dict[str, Any]:
    try:
        from ir_measures import RR, R, Success, nDCG
    except ImportError:
        raise ChatforgeError(
            "measuring retrieval needs ir-measures; pip install 'chatforge[eval]'"
        ) from None

    return {
        "hit@1": Success @ 1,
        "hit@5": Success @ 5,
        "hit@10": Success @ 10,
        "recall@5": R @ 5,
        "recall@10": R @ 10,
        "mrr@10": RR @ 10,
        "ndcg@10": nDCG @ 10,
    }


def per_question_metrics(
    questions: list[Question], ranked: list[list[int]]
) -> list[dict[str, float]]:
    """Each question's metrics from its ranked chunk ids (and its `relevant_chunks`)."""
    import ir_measures

    measures = _measures()
    qrels = [
        ir_measures.Qrel(str(i), str(c), 1)
        for i, q in enumerate(questions)
        for c in sorted(q.relevant_chunks)
    ]
    run = [
        ir_measures.ScoredDoc(str(i), str(c), float(len(ids) - r))
        for i, ids in enumerate(ranked)
        for r, c in enumerate(ids)
    ]
    out: list[dict[str, float]] = [dict.fromkeys(measures, 0.0) for _ in questions]
    names = {m: n for n, m in measures.items()}
    for m in ir_measures.iter_calc(list(measures.values()), qrels, run):
        out[int(m.query_id)][names[m.measure]] = float(m.value)
    return out


def evaluate_retrieval(bot: Bot, questions: list[Question]) -> dict[str, Any]:
    """Search each question as the bot does; per-question ranks and metrics, and their means."""
    rows = []
    ranked = []
    for q in questions:
        t0 = time.perf_counter()
        hits = bot.search(q.question, DEPTH)
        ms = (time.perf_counter() - t0) * 1000
        ranked.append([h.chunk_id for h in hits])
        rank = next((r for r, h in enumerate(hits, 1) if is_relevant(q, h)), None)
        rows.append(
            {
                "line": q.line,
                "question": q.question,
                "expected": _label(q),
                "generated": q.generated,
                "kind": q.kind,
                "rank": rank,
                "found": [_where(h) for h in hits[:3]],
                "ms": ms,
            }
        )
    for row, m in zip(rows, per_question_metrics(questions, ranked), strict=True):
        row.update(m)
    return {"metrics": means(rows, METRICS), "questions": rows}


def means(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, float]:
    """Mean of each metric over the rows, and the count."""
    out = {k: statistics.fmean(r[k] for r in rows) for k in keys}
    return {"n": len(rows), **out}


def _label(q: Question) -> str:
    return ", ".join(q.sources) + (f" § {q.section}" if q.section else "")


def _where(hit: Any) -> str:
    heading = hit.section.split(" > ")[-1] if hit.section else ""
    return f"{hit.source}" + (f" § {heading}" if heading else "")
