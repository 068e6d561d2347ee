"""Fine-tuned vs prompted, answered with numbers.

Each configuration answers the same held-out questions (a validation conversation's first user
turn; its first assistant reply is the reference) through chatforge's own LLM backends:

- base prompted: the base model with a system prompt and a few training examples;
- base + RAG: the bot itself, answering with the base model (`Bot.ask`, nothing stored);
- fine-tuned: the fine-tuned model on the question alone;
- fine-tuned + RAG: the bot itself, answering with the fine-tuned model.

Answers are scored against the reference by token F1 (ROUGE-1 F: unigram overlap) and ROUGE-L
(both from ``rouge-score``) and by the cosine of their embeddings; latency is wall time per
answer. Validation perplexity belongs to the model, measured on the same token ids for both.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.llm.base import LLM

FEW_SHOT = 2
SYSTEM_PROMPT = "You are a helpful assistant. Answer the question briefly, like the examples."
MAX_TOKENS = 96
REPORT_MAX_TOKENS = 48
EVAL_USER = "evaluation"
"""The user RAG configurations ask as: one with no memories, so none are recalled."""


@dataclass
class QA:
    question: str
    reference: str


@dataclass
class Setup:
    """One configuration: which model answers and how it is prompted."""

    name: str
    model: str
    rag: bool = False
    few_shot: bool = False
    perplexity: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)


def first_exchange(messages: Sequence[dict[str, str]]) -> QA | None:
    """The first user turn and the assistant reply that follows it."""
    for i, m in enumerate(messages[:-1]):
        nxt = messages[i + 1]
        if m["role"] == "user" and nxt["role"] == "assistant" and m["content"].strip():
            return QA(m["content"].strip(), nxt["content"].strip())
    return None


def held_out(split: Any, limit: int | None = None) -> list[QA]:
    """Questions and references from a split's conversations (plain-text rows have none)."""
    out = []
    for row in split:
        if limit is not None and len(out) >= limit:
            break
        qa = first_exchange(row.get("messages") or [])
        if qa is not None:
            out.append(qa)
    return out


def read_questions(path: Path) -> list[QA]:
    """A JSONL file of {"question": ..., "answer": ...} (or "reference") records."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ChatforgeError(f"{path}: cannot read questions ({e.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out.append(QA(str(rec["question"]), str(rec.get("answer", rec.get("reference")))))
        except (ValueError, KeyError, TypeError):
            raise ChatforgeError(
                f'{path} line {n}: expected {{"question": ..., "answer": ...}}'
            ) from None
    if not out:
        raise ChatforgeError(f"{path}: no questions; one JSON object per line")
    return out


def shots(split: Any, n: int = FEW_SHOT) -> list[dict[str, str]]:
    """Example turns for the prompted base model, taken from the training split."""
    messages: list[dict[str, str]] = []
    for qa in held_out(split, n):
        messages += [
            {"role": "user", "content": qa.question},
            {"role": "assistant", "content": qa.reference},
        ]
    return messages


def _prompted(setup: Setup, q: str, examples: list) -> list[dict[str, str]]:
    if setup.few_shot:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            *examples,
            {"role": "user", "content": q},
        ]
    return [{"role": "user", "content": q}]


def _rag_bot(bot: Bot, setup: Setup, llm: LLM) -> Bot:
    """The bot as a user gets it with `llm.model` set to this configuration's model."""
    from chatforge.bot import Bot

    settings = bot.settings.model_copy(deep=True)
    settings.llm.model = setup.model
    return Bot(bot.folder, settings, embedder=bot.embedder, store=bot.store, llm=llm)


def answer(
    setup: Setup,
    questions: Sequence[QA],
    examples: list,
    bot: Bot | None = None,
    max_tokens: int = MAX_TOKENS,
) -> None:
    """Generate (greedily) each answer of ``setup`` with its latency.

    A RAG configuration asks the bot itself (`ask(save=False)`: retrieval, memory recall,
    prompt, citation check, as a user's question takes, with nothing stored), so its latency
    includes retrieval; the others send their messages to the model directly.
    """
    from chatforge.llm import GenOptions, open_llm

    llm = open_llm(setup.model, n_ctx=2048)
    greedy = {"max_tokens": max_tokens, "temperature": 0.0, "seed": 0}
    options = GenOptions(**greedy)
    rag = _rag_bot(bot, setup, llm) if setup.rag and bot is not None else None
    for qa in questions:
        t0 = time.perf_counter()
        if rag is not None:
            got = rag.ask(qa.question, user=EVAL_USER, save=False, **greedy)
            text, tokens = got.text, got.usage["completion_tokens"]
        else:
            gen = llm.generate(_prompted(setup, qa.question, examples), options)
            text, tokens = gen.text, gen.completion_tokens
        ms = (time.perf_counter() - t0) * 1000
        setup.answers.append({"answer": text.strip(), "ms": ms, "tokens": tokens})


def score(setups: Sequence[Setup], questions: Sequence[QA], embedder: Any) -> list[dict]:
    """Per-configuration means of token F1, ROUGE-L, embedding cosine and latency."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"])
    refs = embedder.encode([qa.reference for qa in questions])
    rows = []
    for s in setups:
        vecs = embedder.encode([a["answer"] or " " for a in s.answers])
        for a, qa, v, r in zip(s.answers, questions, vecs, refs, strict=True):
            got = scorer.score(qa.reference, a["answer"])
            a.update(f1=got["rouge1"].fmeasure, rouge_l=got["rougeL"].fmeasure, cosine=float(v @ r))
        rows.append(
            {
                "config": s.name,
                "model": s.model,
                "perplexity": s.perplexity,
                "token_f1": statistics.fmean(a["f1"] for a in s.answers),
                "rouge_l": statistics.fmean(a["rouge_l"] for a in s.answers),
                "cosine": statistics.fmean(a["cosine"] for a in s.answers),
                "latency_ms": statistics.fmean(a["ms"] for a in s.answers),
            }
        )
    return rows


def samples(setups: Sequence[Setup], questions: Sequence[QA], n: int = 3) -> list[dict]:
    return [
        {
            "question": qa.question,
            "reference": qa.reference,
            "answers": {s.name: s.answers[i]["answer"] for s in setups},
        }
        for i, qa in enumerate(questions[:n])
    ]


def finetune_report(folder: Path, summary: dict[str, Any], n_questions: int) -> Path:
    """Base (prompted) vs fine-tuned on the run's own validation questions: report.md + PNGs."""
    from datasets import load_from_disk

    from chatforge.embed import Embedder
    from chatforge.evaluate.report import write_report
    from chatforge.models import served_path

    ds = load_from_disk(summary["dataset"])
    questions = held_out(ds["validation"], n_questions)
    setups = [
        Setup(
            "base prompted", summary["base"], few_shot=True, perplexity=summary["perplexity_before"]
        ),
        Setup("fine-tuned", str(served_path(folder)), perplexity=summary["perplexity_after"]),
    ]
    rows: list[dict] = []
    if questions:
        examples = shots(ds["train"])
        for s in setups:
            answer(s, questions, examples, max_tokens=REPORT_MAX_TOKENS)
        rows = score(setups, questions, Embedder("all-MiniLM-L6-v2"))
    else:
        rows = [{"config": s.name, "model": s.model, "perplexity": s.perplexity} for s in setups]
    summary["comparison"] = rows
    return write_report(
        folder,
        f"Fine-tuning {summary['base']} ({summary['method']})",
        rows,
        samples(setups, questions),
        summary=summary,
        metrics_csv=folder / "metrics.csv",
    )


def compare(
    bot_dir: Path,
    dataset: Path,
    finetuned: Path | None = None,
    questions_file: Path | None = None,
    limit: int = 20,
    out: Path | None = None,
    max_tokens: int = MAX_TOKENS,
) -> dict[str, Any]:
    """The four configurations on the same questions; writes report.md and PNGs into ``out``."""
    from chatforge.bot import Bot
    from chatforge.data.prepared import load_dataset_folder
    from chatforge.evaluate.perplexity import evaluate_perplexity
    from chatforge.evaluate.report import write_report
    from chatforge.models import finetuned_folder, served_path

    bot = Bot(bot_dir)
    run = (
        finetuned_folder(str(finetuned)) if finetuned else finetuned_folder(bot.settings.llm.model)
    )
    if run is None:
        what = finetuned or bot.settings.llm.model
        raise ChatforgeError(
            f"{what} is not a `chatforge finetune` output folder; give --finetuned DIR"
        )
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    base = summary["base"]
    ds = load_dataset_folder(dataset)
    questions = (
        read_questions(questions_file) if questions_file else held_out(ds["validation"], limit)
    )
    if not questions:
        raise ChatforgeError(
            f"{dataset} has no validation conversations to ask; give --questions FILE"
        )
    ppl_base = evaluate_perplexity(base, dataset, tokenizer_model=base, limit=200)["perplexity"]
    ppl_ft = evaluate_perplexity(run, dataset, tokenizer_model=base, limit=200)["perplexity"]
    served = str(served_path(run))
    setups = [
        Setup("base prompted", base, few_shot=True, perplexity=ppl_base),
        Setup("base + RAG", base, rag=True, perplexity=ppl_base),
        Setup("fine-tuned", served, perplexity=ppl_ft),
        Setup("fine-tuned + RAG", served, rag=True, perplexity=ppl_ft),
    ]
    examples = shots(ds["train"])
    for s in setups:
        answer(s, questions, examples, bot, max_tokens)
    rows = score(setups, questions, bot.embedder)
    out = out or run / "compare"
    out.mkdir(parents=True, exist_ok=True)
    report = write_report(
        out,
        f"Fine-tuned vs prompted: {run.name} against {base}",
        rows,
        samples(setups, questions),
        summary={"questions": len(questions), "bot": str(bot_dir), "dataset": str(dataset)},
        metrics_csv=run / "metrics.csv",
    )
    result = {"report": str(report), "questions": len(questions), "configs": rows}
    (out / "compare.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result
