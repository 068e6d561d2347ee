"""Retrieval benchmark: hybrid vs dense-only vs BM25-only, with a fusion settings sweep.

Two labelled sets. debian-faq (the default): questions (bench/data/debian_faq_questions.jsonl)
name the FAQ chapter file and the number of the section that answers them; a hit is relevant
when it comes from that file and its heading trail (`Hit.section`) contains that section, e.g.
"8.4" matches "Chapter 8. ... > 8.4. How do I display the files of an installed package?" and
also its subsections. Every label is checked against the store before scoring. python-docs:
questions (bench/data/python_docs_questions.jsonl) name the pages that answer them, and `--pages`
pages of the Python documentation are ingested, the answer pages among them.

debian-faq-users: the labelled questions of the answer and tuning benches
(debian_faq_users, debian_faq_hard, debian_faq_answers), in users' own words over the same FAQ:
worded unlike its headings, so BM25 finds little and the fusion must not let it mislead.

debian-faq-fr: the same labels with the questions written in French, over the French FAQ
(package debian-faq-fr, same chapters and section numbers, `.fr.html` files). debian-faq-cross:
those French questions over the English FAQ. `all` runs every set, one summary line each;
`--embed MODEL` runs with another embedding model (its own bots, beside the default's).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import corpora
from common import DATA, first_rank, offline, rank_metrics, read_jsonl, table

QUESTIONS = {
    "debian-faq": DATA / "debian_faq_questions.jsonl",
    "debian-faq-users": (
        DATA / "debian_faq_users.jsonl",
        DATA / "debian_faq_hard.jsonl",
        DATA / "debian_faq_answers.jsonl",
    ),
    "python-docs": DATA / "python_docs_questions.jsonl",
    "debian-faq-fr": DATA / "debian_faq_questions_fr.jsonl",
    "debian-faq-cross": DATA / "debian_faq_questions_fr.jsonl",
}
CORPUS = {"debian-faq-cross": "debian-faq", "debian-faq-users": "debian-faq"}
"""The corpus of a set, where it is not the set's own name."""
BOTS = corpora.DEFAULT_CACHE / "bots"
CUTOFFS = (1, 5, 10)
METRICS = ("hit@1", "hit@5", "mrr@10")


def in_section(section: str, number: str) -> bool:
    """Whether a heading trail contains the section numbered `number` (e.g. "8.4")."""
    return any(part.startswith(number + ". ") for part in section.split(" > "))


def relevant(q: dict[str, Any]) -> Callable[[Any], bool]:
    if "sources" in q:  # labelled by page
        return lambda h: h.source in q["sources"]
    return lambda h: h.source == q["source"] and in_section(h.section, q["section"])


class CachedQueries:
    """The bot's embedder with query vectors remembered, so a settings sweep embeds each once."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.encode_query = lru_cache(maxsize=None)(embedder.encode_query)
        self.relevance = embedder.relevance
        self.languages = embedder.languages


def check_labels(bot: Any, questions: list[dict[str, Any]]) -> None:
    rows = bot.store.db.execute(
        "SELECT DISTINCT d.path, c.section FROM chunks c JOIN documents d ON d.id = c.doc_id"
    ).fetchall()
    bad = [
        q
        for q in questions
        if not any(p == q["source"] and in_section(s, q["section"]) for p, s in rows)
    ]
    if bad:
        names = ", ".join(f"{q['source']}#{q['section']}" for q in bad)
        raise SystemExit(f"labels that match no stored chunk: {names}")


def questions_of(name: str) -> list[dict[str, Any]]:
    """The set's labelled questions; the cross-language set points the French labels at English
    pages."""
    files = QUESTIONS[name]
    files = files if isinstance(files, tuple) else (files,)
    questions = [q for f in files for q in read_jsonl(f) if q.get("source") or q.get("sources")]
    if name == "debian-faq-cross":
        for q in questions:
            q["source"] = q["source"].replace(".fr.html", ".en.html")
    return questions


def open_bot(name: str, args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]], str]:
    """The set's bot (ingested, labels checked), its questions and its display name."""
    from chatforge.bot import Bot
    from chatforge.config import Settings

    questions = questions_of(name)
    corpus_name = CORPUS.get(name, name)
    root, pages = corpora.corpus(corpus_name)
    folder = corpus_name
    if corpus_name == "python-docs":
        pages = corpora.pick_pages(pages, questions, args.pages)
        folder = name = f"{corpus_name}-{len(pages)}"
    if args.embed:
        folder += "-" + args.embed.replace("/", "_")
    bot_dir = (args.bot or BOTS / folder).resolve()
    if args.fresh:
        shutil.rmtree(bot_dir, ignore_errors=True)
    Bot.init(bot_dir, exist_ok=True)
    settings = Settings.load(bot_dir)
    if args.embed:
        settings.embed.model = args.embed
    cwd = os.getcwd()
    os.chdir(root)
    try:
        report = Bot(bot_dir, settings).ingest([p.as_posix() for p in pages])
    finally:
        os.chdir(cwd)
    bot = Bot(bot_dir, settings)
    if corpus_name.startswith("debian-faq"):
        check_labels(bot, questions)
    rephrased = sum(q.get("kind") == "rephrased" for q in questions)
    print(
        f"{name}: {len(pages)} pages, {bot.store.chunk_count()} chunks "
        f"(ingest {report.totals}); {len(questions)} questions, {rephrased} rephrased; "
        f"embed {settings.embed.model}"
    )
    return bot, questions, name


def score(search: Callable[[str], list], questions: list[dict[str, Any]]) -> dict[str, float]:
    ranks = [first_rank(search(q["question"]), relevant(q)) for q in questions]
    return rank_metrics(ranks, CUTOFFS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sets", nargs="*", default=["debian-faq"], choices=[*QUESTIONS, "all"], metavar="SET",
        help=f"any of {', '.join(QUESTIONS)}, or all (default: debian-faq)",
    )  # fmt: skip
    parser.add_argument("--pages", type=int, default=150, help="python-docs pages to ingest")
    parser.add_argument("--bot", type=Path, help="bot folder (reused if present; one set only)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the bot from scratch")
    parser.add_argument("--no-sweep", action="store_true", help="skip the fusion settings sweep")
    parser.add_argument("--embed", help="embedding model (embed.model) instead of the default")
    args = parser.parse_args()
    names = list(QUESTIONS) if "all" in args.sets else list(dict.fromkeys(args.sets))
    if args.bot and len(names) > 1:
        parser.error("--bot names the folder of one set; give one set with it")
    offline()
    summaries = [bench_set(name, args) for name in names]
    print("\n" + "\n".join(summaries))


def bench_set(name: str, args: argparse.Namespace) -> str:
    """Every mode on one set (and the sweep unless --no-sweep); returns its summary line."""
    from chatforge.config import RetrieveSettings
    from chatforge.retrieve import Retriever

    bot, questions, name = open_bot(name, args)
    embedder = CachedQueries(bot.embedder)
    base = bot.settings.retrieve

    def run(settings: RetrieveSettings, subset: list[dict[str, Any]] = questions) -> dict:
        retriever = Retriever(bot.store, embedder, settings)  # what bot.search calls
        return score(lambda q: retriever.search(q, max(CUTOFFS)), subset)

    modes = {
        "hybrid": base,
        "dense only": base.model_copy(update={"lexical": False}),
        "BM25 only": base.model_copy(update={"dense": False}),
    }
    kinds = {"all": questions}
    for kind in ("heading", "rephrased"):
        if subset := [q for q in questions if q.get("kind") == kind]:
            kinds[kind] = subset
    results = {(m, k): run(s, qs) for m, s in modes.items() for k, qs in kinds.items()}
    rows = [
        [m, k, len(kinds[k]), *(results[m, k][x] for x in METRICS)] for m in modes for k in kinds
    ]
    print(
        f"\nretrieve settings: fusion={base.fusion} candidates={base.candidates} "
        f"dense_weight={base.dense_weight} lexical_weight={base.lexical_weight} "
        f"rrf_k={base.rrf_k}"
    )
    print(table(rows, ["mode", "questions", "n", *METRICS]))

    hy, de, bm = (results[m, "all"] for m in modes)
    beats = all(hy[x] >= max(de[x], bm[x]) for x in METRICS)
    best_line = ""
    if not args.no_sweep:
        weights = ((0.6, 0.4), (0.7, 0.3), (0.8, 0.2), (0.9, 0.1), (1, 0.5), (1, 0.25))
        grid = [("convex", 0, w, c) for w in weights[:4] for c in (20, 50, 100)]
        grid += itertools.product(["rrf"], (5, 20, 60), weights[4:] + ((1, 1),), (20, 50, 100))
        sweep = []
        for fusion, rrf_k, (dw, lw), cand in grid:
            s = base.model_copy(
                update={"fusion": fusion, "rrf_k": rrf_k or base.rrf_k, "dense_weight": dw,
                        "lexical_weight": lw, "candidates": cand}
            )  # fmt: skip
            sweep.append(((fusion, rrf_k or "-", dw, lw, cand), run(s)))
        sweep.sort(key=lambda r: (r[1]["mrr@10"], r[1]["hit@1"], r[1]["hit@5"]), reverse=True)
        print(f"\nfusion sweep ({len(sweep)} settings), best 10 by MRR@10:")
        head = ["fusion", "rrf_k", "dense_w", "lexical_w", "candidates", *METRICS]
        print(table([[*k, *(m[x] for x in METRICS)] for k, m in sweep[:10]], head))
        (fusion, rrf_k, dw, lw, cand), best = sweep[0]
        best_beats = all(best[x] >= max(de[x], bm[x]) for x in METRICS)
        best_line = (
            f"; best sweep setting fusion={fusion} rrf_k={rrf_k} dense_weight={dw} "
            f"lexical_weight={lw} "
            f"candidates={cand}: hit@1 {best['hit@1']:.3f} hit@5 {best['hit@5']:.3f} "
            f"MRR@10 {best['mrr@10']:.3f}, >= each half: {'yes' if best_beats else 'NO'}"
        )

    return (
        f"SUMMARY retrieval {name} ({len(questions)} q): MRR@10 hybrid {hy['mrr@10']:.3f} "
        f"vs dense {de['mrr@10']:.3f} ({hy['mrr@10'] / max(de['mrr@10'], 1e-9):.2f}x) "
        f"vs BM25 {bm['mrr@10']:.3f} ({hy['mrr@10'] / max(bm['mrr@10'], 1e-9):.2f}x); "
        f"hit@1 {hy['hit@1']:.3f}/{de['hit@1']:.3f}/{bm['hit@1']:.3f}, "
        f"hit@5 {hy['hit@5']:.3f}/{de['hit@5']:.3f}/{bm['hit@5']:.3f}; "
        f"hybrid >= each half on every metric: {'yes' if beats else 'NO'}{best_line}"
    )


if __name__ == "__main__":
    main()
