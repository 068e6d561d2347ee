"""Answer quality: chatforge vs the standard LangChain RAG recipe on labelled Debian FAQ questions.

The labelled set: bench/data/debian_faq_questions.jsonl (FAQ headings and user-phrased questions,
each naming the FAQ chapter file and section that answers it) plus debian_faq_answers.jsonl (more
user-phrased questions and questions no document answers) plus debian_faq_users.jsonl (questions
in users' own words, worded unlike the FAQ's headings, kind "own-words", and Debian questions the
FAQ does not answer). The reference answer of a question is
its FAQ section's own answer text, read from the Debian FAQ that bench/corpora.py fetches with
`apt-get download`; its "first sentences" are the first two sentences of that text, and its key
terms the five content words of those sentences with the highest tf-idf (term frequency in the
whole reference, document frequency over all FAQ sections).

Systems, in one process, on the same questions, greedy, same `--max-tokens`:
- ``chatforge <model>``: the bot's whole path (hybrid retrieval, passage compression, prompt,
  llama.cpp, citation checks) with ``chat.mode: generate``, for each model in ``--models``;
- ``chatforge extractive``: ``chat.mode: extractive`` (the best passage quoted, no model);
- ``langchain <model>``: RecursiveCharacterTextSplitter 1000/200 over the pages loaded by
  BSHTMLLoader, the same MiniLM through HuggingFaceEmbeddings, FAISS, k=4, a "use only the
  context" prompt, ChatLlamaCpp on the same GGUF with n_batch 512, all cores, rope_freq_base=0;
- ``no retrieval <model>``: the same model answering the bare question;
- ``first 95 words``: the first 95 words of LangChain's top chunk (the extractive baseline).

Metrics (citation markers removed first): token F1 and ROUGE-L F (rouge-score, stemmed) against
the whole reference (also on the own-words questions alone, f1_own) and its first sentences,
key-term recall, mean answer words; for chatforge the share of answerable questions answered
by the model itself (generated: not replaced by a quote); citation precision (of the passages
an answer cites, the share from the labelled section) and the share of citations verified; on
unanswerable questions the share declined, on answerable ones the share wrongly declined;
median time to first token and total time. The targets are judged on chatforge's default: the
bot's default model (qwen) with ``chat.mode: auto`` resolved for it (generate), against the
LangChain recipe on that model.

``--lang fr``: the same, in French: the French FAQ (debian-faq-fr), the labelled questions written
in French (debian_faq_questions_fr.jsonl) and French questions no document answers
(debian_faq_unanswerable_fr.jsonl); chatforge's bot is a French one (``chatforge init --language
fr``: multilingual-e5-small), LangChain keeps MiniLM and its prompt is in French; a French
"I don't know" counts as declined.

Run from the repository root: ``python bench/answers.py`` (all questions and built-in models,
about an hour on 2 cores), ``python bench/answers.py --models qwen`` (the default model, about
25 minutes) or ``python bench/answers.py --quick`` (8 questions, one model).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import string
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import corpora
from common import DATA, offline, read_jsonl, table

from chatforge.chat.verify import DECLINE as DECLINES
from chatforge.words import STOPWORDS

QUESTION_FILES = {
    "en": (
        DATA / "debian_faq_questions.jsonl",
        DATA / "debian_faq_answers.jsonl",
        DATA / "debian_faq_users.jsonl",
    ),
    "fr": (DATA / "debian_faq_questions_fr.jsonl", DATA / "debian_faq_unanswerable_fr.jsonl"),
}
BOTS = corpora.DEFAULT_CACHE / "bots"
FAQ = {"en": corpora.debian_faq, "fr": corpora.debian_faq_fr}
EXTRACT_WORDS = 95
LANGCHAIN_PROMPT = {
    "en": "Use only the following context to answer the question. If the context does not "
    "contain the answer, say that you don't know.\n\nContext:\n{context}\n\nQuestion: {question}",
    "fr": "Utilise uniquement le contexte suivant pour répondre à la question. Si le contexte ne "
    "contient pas la réponse, dis que tu ne sais pas.\n\nContexte :\n{context}\n\n"
    "Question : {question}",
}
DECLINE = re.compile(
    rf"{DECLINES.pattern}|\bnothing in my documents\b|\brien dans mes documents\b", re.IGNORECASE
)
"""A declined answer: the sentences chatforge's own check reads as declines, or its fixed reply."""
_CITE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_TOKEN = re.compile(r"[^\W_]+")
"""A word in any script: accented French words stay whole."""
STOP = (
    frozenset(
        "a an the and or of to in on for is are be can i you it this that with as by at from what "
        "how do does your my if not will which there these those has have was were so".split()
    )
    | STOPWORDS
)
TARGETS = {
    "f1_vs_langchain": 2.0,
    "citation_precision": 0.9,
    "declined": 0.8,
    "false_declined": 0.05,
    "generated": 0.9,
    "ttft_s": 1.5,
    "total_s": 4.0,
}


# -- the labelled set --------------------------------------------------------------------


def section_texts(faq: Path, lang: str = "en") -> dict[tuple[str, str], str]:
    """(chapter file, section number) -> the section's own answer text (subsections left out).

    A section whose text is all in subsections takes its first subsection's text.
    """
    from bs4 import BeautifulSoup, Tag

    out: dict[tuple[str, str], str] = {}
    for rel in corpora.debian_faq_pages(faq, lang):
        soup = BeautifulSoup((faq / rel).read_text(encoding="utf-8"), "html.parser")
        for div in soup.find_all("div", class_="section"):
            heading = div.find(["h2", "h3", "h4"])
            if heading is None:
                continue
            number = heading.get_text(" ", strip=True).split()[0].rstrip(".")
            parts = [
                child.get_text(" ", strip=True)
                for child in div.children
                if isinstance(child, Tag)
                and "titlepage" not in (child.get("class") or [])
                and "section" not in (child.get("class") or [])
            ]
            text = " ".join(" ".join(parts).split())
            if not text:
                sub = div.find("div", class_="section")
                text = out.get((rel.as_posix(), _number(sub)), "") if sub else ""
            out[rel.as_posix(), number] = text
    # first-subsection fallbacks point at sections parsed later; resolve them in a second pass
    for key, text in list(out.items()):
        if not text:
            subs = sorted(k for k in out if k[0] == key[0] and k[1].startswith(key[1] + "."))
            out[key] = out[subs[0]] if subs else ""
    return out


def _number(div: Any) -> str:
    heading = div.find(["h2", "h3", "h4"])
    return heading.get_text(" ", strip=True).split()[0].rstrip(".") if heading else ""


def first_sentences(text: str, n: int = 2) -> str:
    return " ".join(_SENTENCE.split(text)[:n])


@dataclass
class Question:
    question: str
    kind: str
    source: str | None = None
    section: str | None = None
    reference: str = ""
    first: str = ""
    key_terms: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.source is not None


def load_questions(faq: Path, lang: str = "en") -> list[Question]:
    sections = section_texts(faq, lang)
    df = Counter(t for text in sections.values() for t in set(_tokens(text)))
    n_docs = len(sections)
    out = []
    for row in (r for path in QUESTION_FILES[lang] for r in read_jsonl(path)):
        q = Question(row["question"], row["kind"], row.get("source"), row.get("section"))
        if q.answerable:
            q.reference = sections.get((q.source, q.section), "")
            if not q.reference:
                raise SystemExit(f"no FAQ text for {q.source}#{q.section}; check the labels")
            q.first = first_sentences(q.reference)
            tf = Counter(_tokens(q.reference))
            terms = dict.fromkeys(t for t in _tokens(q.first) if t not in STOP and len(t) > 2)
            q.key_terms = sorted(terms, key=lambda t: (-tf[t] * math.log(n_docs / df[t]), t))[:5]
        out.append(q)
    return out


def spread(questions: list[Question], n: int) -> list[Question]:
    """`n` questions: headings, user-phrased and unanswerable ones, spread over the set."""
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    k = max(1, n // 4)
    step = max(1, len(answerable) // (n - k))
    return answerable[::step][: n - k] + unanswerable[:k]


# -- metrics -----------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def normalize(text: str) -> list[str]:
    """SQuAD-style: lower case, no punctuation, no articles."""
    text = "".join(c if c not in string.punctuation else " " for c in text.lower())
    return [t for t in text.split() if t not in {"a", "an", "the"}]


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction), normalize(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


def key_term_recall(prediction: str, terms: list[str]) -> float:
    have = set(_tokens(prediction))
    return sum(t in have for t in terms) / len(terms) if terms else 0.0


def declined(text: str, unknown_answer: str) -> bool:
    return text.strip() == unknown_answer.strip() or bool(DECLINE.search(text))


# -- systems -----------------------------------------------------------------------------


@dataclass
class Result:
    text: str
    ttft: float
    total: float
    cited: list[bool] | None = None
    """Per cited passage: does it come from the labelled section (None: no citations kept)."""
    verified: list[bool] | None = None
    generated: bool | None = None
    """chatforge: the model's own answer (not a quote, not a fixed reply); None for others."""


def timed(pieces: Iterator[str]) -> tuple[str, float, float]:
    start = time.perf_counter()
    first = None
    parts = []
    for piece in pieces:
        if piece and first is None:
            first = time.perf_counter() - start
        parts.append(piece)
    total = time.perf_counter() - start
    return "".join(parts), first if first is not None else total, total


class Chatforge:
    def __init__(
        self,
        bot: Any,
        model: str | None,
        mode: str,
        max_tokens: int,
        repeat_penalty: float | None = None,
        **chat: Any,
    ) -> None:
        self.bot, self.model, self.mode, self.max_tokens = bot, model, mode, max_tokens
        self.repeat_penalty = repeat_penalty
        defaults = bot.settings.chat
        self.chat = {"compress": defaults.compress, "passage_order": defaults.passage_order, **chat}

    def __call__(self, q: Question) -> Result:
        from retrieval import in_section

        from chatforge.bot import Bot
        from chatforge.llm import open_llm

        if self.model is not None:
            llm = open_llm(self.model, n_ctx=self.bot.settings.llm.n_ctx)
            if self.repeat_penalty is not None:
                llm.repeat_penalty = self.repeat_penalty
            b = self.bot
            self.bot = Bot(b.folder, b.settings, embedder=b.embedder, store=b.store, llm=llm)
        self.bot.settings.chat.mode = self.mode
        for key, value in self.chat.items():
            setattr(self.bot.settings.chat, key, value)
        start = time.perf_counter()
        first = None
        answer = None
        for item in self.bot.stream(
            q.question, max_tokens=self.max_tokens, temperature=0.0, save=False
        ):
            if isinstance(item, str):
                if item and first is None:
                    first = time.perf_counter() - start
            else:
                answer = item
        total = time.perf_counter() - start
        assert answer is not None
        cited = [
            bool(q.answerable and s.hit.source == q.source and in_section(s.hit.section, q.section))
            for s in answer.cited
        ]
        verified = [bool(s.verified) for s in answer.cited]
        generated = answer.mode == "generate"
        return Result(answer.text, first or total, total, cited, verified, generated)


class LangChain:
    """The standard recipe; `top_chunk` serves the extractive baseline from the same index."""

    def __init__(self, faq: Path, embed_path: str, lang: str = "en") -> None:
        from langchain_community.document_loaders import BSHTMLLoader
        from langchain_community.vectorstores import FAISS
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        docs = []
        for rel in corpora.debian_faq_pages(faq, lang):
            docs.extend(BSHTMLLoader(str(faq / rel), open_encoding="utf-8").load())
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        chunks = splitter.split_documents(docs)
        embeddings = HuggingFaceEmbeddings(model_name=embed_path)
        self.index = FAISS.from_documents(chunks, embeddings)
        self.retriever = self.index.as_retriever(search_kwargs={"k": 4})
        self.chunks = len(chunks)
        self.lang = lang

    def chain(self, gguf: str, max_tokens: int) -> Callable[[Question], Result]:
        from langchain_community.chat_models import ChatLlamaCpp
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_core.runnables import RunnablePassthrough

        llm = ChatLlamaCpp(
            model_path=gguf,
            n_ctx=4096,
            n_batch=512,
            n_threads=os.cpu_count() or 1,
            rope_freq_base=0,
            temperature=0.0,
            max_tokens=max_tokens,
            verbose=False,
        )
        prompt = ChatPromptTemplate.from_template(LANGCHAIN_PROMPT[self.lang])

        def context(docs: list[Any]) -> str:
            return "\n\n".join(d.page_content for d in docs)

        chain = (
            {"context": self.retriever | context, "question": RunnablePassthrough()}
            | prompt
            | llm
            | StrOutputParser()
        )

        def run(q: Question) -> Result:
            text, ttft, total = timed(chain.stream(q.question))
            return Result(text, ttft, total)

        return run

    def first_words(self, q: Question) -> Result:
        start = time.perf_counter()
        top = self.retriever.invoke(q.question)[0].page_content
        text = " ".join(top.split()[:EXTRACT_WORDS])
        elapsed = time.perf_counter() - start
        return Result(text, elapsed, elapsed)


def bare_model(model: str, max_tokens: int) -> Callable[[Question], Result]:
    from chatforge.llm import GenOptions, open_llm

    llm = open_llm(model)

    def run(q: Question) -> Result:
        messages = [
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            {"role": "user", "content": q.question},
        ]
        text, ttft, total = timed(
            llm.stream(messages, GenOptions(max_tokens=max_tokens, temperature=0.0))
        )
        return Result(text, ttft, total)

    return run


# -- scoring -----------------------------------------------------------------------------


def score(results: list[tuple[Question, Result]], unknown_answer: str) -> dict[str, float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    answerable = [(q, r, _CITE.sub("", r.text).strip()) for q, r in results if q.answerable]
    unanswerable = [(q, r) for q, r in results if not q.answerable]

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else float("nan")

    cited = [c for _, r, _ in answerable if r.cited is not None for c in r.cited]
    made = [r.generated for _, r, _ in answerable if r.generated is not None]
    own = [(q, t) for q, _, t in answerable if q.kind == "own-words"]
    verified = [v for _, r in results if r.verified is not None for v in r.verified]
    return {
        "f1": mean([token_f1(t, q.reference) for q, _, t in answerable]),
        "f1_own": mean([token_f1(t, q.reference) for q, t in own]),
        "f1_first": mean([token_f1(t, q.first) for q, _, t in answerable]),
        "rougeL": mean([scorer.score(q.reference, t)["rougeL"].fmeasure for q, _, t in answerable]),
        "rougeL_first": mean(
            [scorer.score(q.first, t)["rougeL"].fmeasure for q, _, t in answerable]
        ),
        "key_terms": mean([key_term_recall(t, q.key_terms) for q, _, t in answerable]),
        "words": mean([len(t.split()) for _, _, t in answerable]),
        "generated": mean([float(g) for g in made]),
        "cite_prec": mean([float(c) for c in cited]) if cited else float("nan"),
        "verified": mean([float(v) for v in verified]) if verified else float("nan"),
        "declined": mean([float(declined(r.text, unknown_answer)) for _, r in unanswerable]),
        "false_decl": mean([float(declined(r.text, unknown_answer)) for _, r, _ in answerable]),
        "ttft_s": statistics.median(r.ttft for _, r in results),
        "total_s": statistics.median(r.total for _, r in results),
    }


COLUMNS = ("f1", "f1_own", "f1_first", "rougeL", "key_terms", "words", "generated", "cite_prec",
           "verified", "declined", "false_decl", "ttft_s", "total_s")  # fmt: skip


# -- main --------------------------------------------------------------------------------


def open_bot(bot_dir: Path, faq: Path, lang: str = "en") -> Any:
    from chatforge.bot import Bot
    from chatforge.profiles import settings_for

    Bot.init(bot_dir, exist_ok=True).close()
    # a new bot's settings, whatever an older chatforge wrote into the folder's chatforge.yaml
    bot = Bot(bot_dir.resolve(), settings_for("general", lang))
    cwd = os.getcwd()
    os.chdir(faq)
    try:
        bot.ingest([p.as_posix() for p in corpora.debian_faq_pages(faq, lang)])
    finally:
        os.chdir(cwd)
    bot.settings.memory.enabled = False
    bot.settings.chat.history_turns = 0
    return bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 questions, one model")
    parser.add_argument("--questions", type=int, default=0, help="N spread over the set (0: all)")
    parser.add_argument("--models", default="", help="comma-separated built-in models")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--lang", choices=sorted(FAQ), default="en", help="the FAQ's language")
    parser.add_argument("--bot", type=Path, help="bot folder (reused if present)")
    parser.add_argument("--ablate", action="store_true", help="also chatforge variants")
    parser.add_argument("--out", type=Path, help="the answers, one JSON line each")
    args = parser.parse_args()
    suffix = "" if args.lang == "en" else f"-{args.lang}"
    # English shares bench/retrieval.py's bot; the French one answers with the French default
    # embedding model, where retrieval.py's French bot keeps MiniLM to compare the halves.
    args.bot = args.bot or BOTS / ("debian-faq" if args.lang == "en" else "debian-faq-fr-answers")
    args.out = args.out or corpora.DEFAULT_CACHE / f"answers{suffix}.jsonl"
    offline()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*XML document.*")
    from chatforge.models import BUILTIN_MODELS, resolve_builtin, resolve_embedder

    models = [m for m in args.models.split(",") if m] or (
        ["qwen"] if args.quick else list(BUILTIN_MODELS)
    )
    faq = FAQ[args.lang]()
    questions = load_questions(faq, args.lang)
    if args.quick:
        questions = spread(questions, 8)
    elif args.questions:
        questions = spread(questions, args.questions)
    bot = open_bot(args.bot, faq, args.lang)
    unknown = bot.settings.chat.unknown_reply(args.lang)
    lc = LangChain(faq, resolve_embedder("all-MiniLM-L6-v2"), args.lang)
    n_unans = sum(not q.answerable for q in questions)
    print(
        f"Debian FAQ ({args.lang}, embed {bot.settings.embed.model}): {len(questions)} questions "
        f"({n_unans} unanswerable); chatforge "
        f"{bot.store.chunk_count()} chunks, LangChain {lc.chunks} chunks; models {models}; "
        f"load {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores"
    )

    # What a new bot does: its default model, with chat.mode auto resolved for it (judged before
    # the systems below change the bot's settings).
    default_model = bot.settings.llm.model
    default_system = (
        "chatforge extractive" if bot.chat.mode() == "extractive" else f"chatforge {default_model}"
    )
    systems: dict[str, Callable[[Question], Result]] = {}
    for m in models:
        systems[f"chatforge {m}"] = Chatforge(bot, m, "generate", args.max_tokens)
        if args.ablate:
            for name, change in (("no compress", {"compress": False}),
                                 ("best first", {"passage_order": "best_first"}),
                                 ("no repeat penalty", {"repeat_penalty": 1.0})):  # fmt: skip
                systems[f"chatforge {m} {name}"] = Chatforge(
                    bot, m, "generate", args.max_tokens, **change
                )
        systems[f"langchain {m}"] = lc.chain(str(resolve_builtin(m, "q8_0")), args.max_tokens)
        systems[f"no retrieval {m}"] = bare_model(m, args.max_tokens)
    systems["chatforge extractive"] = Chatforge(bot, None, "extractive", args.max_tokens)
    systems["first 95 words"] = lc.first_words

    rows, scores = [], {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as log:
        for name, system in systems.items():
            results = []
            for q in questions:
                r = system(q)
                results.append((q, r))
                log.write(json.dumps({"system": name, "question": q.question, "kind": q.kind,
                                      "answer": r.text, "reference": q.first,
                                      "cited_ok": r.cited, "verified": r.verified},
                                     ensure_ascii=False) + "\n")  # fmt: skip
            scores[name] = score(results, unknown)
            rows.append([name, *(scores[name][c] for c in COLUMNS)])
            print(f"  {name}: done", flush=True)
    print()
    print(table(rows, ["system", *COLUMNS]))
    print(f"answers written to {args.out}")

    best = max(
        (
            n
            for n in scores
            if n.startswith("chatforge ") and n.removeprefix("chatforge ") in models
        ),
        key=lambda n: scores[n]["f1"],
    )
    model = best.removeprefix("chatforge ")
    peer = default_model if f"langchain {default_model}" in scores else model
    if default_system not in scores:
        default_system = best
    s, lang, ext = scores[default_system], scores[f"langchain {peer}"], scores["first 95 words"]
    ratio = s["f1"] / max(lang["f1"], 1e-9)
    checks = {
        "F1 > extractive": s["f1"] > ext["f1"],
        f"F1 >= {TARGETS['f1_vs_langchain']}x LangChain": ratio >= TARGETS["f1_vs_langchain"],
        f"generated >= {TARGETS['generated']}": s["generated"] >= TARGETS["generated"],
        "citation precision >= 0.9": s["cite_prec"] >= TARGETS["citation_precision"],
        "declined >= 0.8": s["declined"] >= TARGETS["declined"],
        "wrongly declined <= 0.05": s["false_decl"] <= TARGETS["false_declined"],
        "first token <= 1.5 s": s["ttft_s"] <= TARGETS["ttft_s"],
        "total <= 4 s": s["total_s"] <= TARGETS["total_s"],
    }
    print(
        f"SUMMARY answers debian-faq ({len(questions)} q): chatforge's default "
        f"({default_system}, model {default_model}): F1 {s['f1']:.3f} ({ratio:.2f}x LangChain "
        f"{peer} {lang['f1']:.3f}; extractive baseline {ext['f1']:.3f}; quoting mode "
        f"{scores['chatforge extractive']['f1']:.3f}), on questions in users' own words "
        f"{s['f1_own']:.3f} (LangChain {lang['f1_own']:.3f}), generated {s['generated']:.2f}, "
        f"citation precision {s['cite_prec']:.3f}, declined {s['declined']:.2f}, wrongly "
        f"declined {s['false_decl']:.2f}, median first token {s['ttft_s']:.2f} s, total "
        f"{s['total_s']:.2f} s (LangChain {lang['ttft_s']:.2f} s, {lang['total_s']:.2f} s); "
        f"best generating model {model}: F1 {scores[best]['f1']:.3f}; targets: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items())
    )


if __name__ == "__main__":
    main()
