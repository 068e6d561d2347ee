"""`chatforge tune-retriever`: fit the bot's embedding model to its documents and its users'
way of asking, from the questions `eval generate-questions` wrote for its own chunks.

Generated questions are split (by a hash of their text, so the split is the same each run)
into training and held-out ones. Each training question is paired with the chunk it was
written from and a hard negative: the best hit of the bot's own search that is not from the
question's source section. sentence-transformers' trainer fits the model with
MultipleNegativesRankingLoss, so every other passage of a batch is a negative too. The model is
saved as a folder and the bot's store is re-embedded with it (chatforge.reembed, resumable);
the caller then names it in `embed.model` (the CLI does), which the store now expects. Before
and after are measured on the held-out generated questions and on the user's own questions,
never trained on.

Questions a model writes from a chunk reuse the chunk's words, so tuning on them can teach word
matching and lose the questions users phrase their own way. The tuned model is therefore kept
only when it does no worse on the held-out questions (`no_worse`: MRR@10 on the user's own, or
on the held-out generated ones when the user has none); otherwise the store is re-embedded with
the model it had, the tuned folder stays for a look, and `force` switches anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import ChatforgeError
from chatforge.evaluate import questions as qs
from chatforge.evaluate.retrieval_eval import evaluate_retrieval

if TYPE_CHECKING:
    from chatforge.bot import Bot

log = logging.getLogger(__name__)

MIN_PAIRS = 8
"""Training pairs below which tuning would learn nothing worth re-embedding a bot for."""
HELD_OUT = 0.2
MAX_SEQ_LENGTH = 256
DEFAULT_FOLDER = Path("models") / "retriever"
LEARNING_RATE = 3e-5


def is_held_out(q: qs.Question, share: float = HELD_OUT) -> bool:
    digest = hashlib.sha256(q.question.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def passages(bot: Bot, ids: set[int]) -> dict[int, str]:
    """Chunk texts as the store embeds them (heading context, then text)."""
    marks = ",".join("?" * len(ids))
    rows = bot.store.db.execute(
        f"SELECT id, context || char(10) || text FROM chunks WHERE id IN ({marks})", tuple(ids)
    )
    return dict(rows.fetchall())


def training_rows(bot: Bot, train: list[qs.Question]) -> dict[str, list[str]]:
    """(question, its chunk, a hard negative) for each training question."""
    from chatforge.evaluate.questions import is_relevant

    negatives: dict[int, int] = {}
    for i, q in enumerate(train):
        hit = next((h for h in bot.search(q.question, 10) if not is_relevant(q, h)), None)
        if hit is not None:
            negatives[i] = hit.chunk_id
    texts = passages(bot, {q.chunk for q in train if q.chunk} | set(negatives.values()))
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    for i, q in enumerate(train):
        if q.chunk in texts and negatives.get(i) in texts:
            rows["anchor"].append(q.question)
            rows["positive"].append(texts[q.chunk])
            rows["negative"].append(texts[negatives[i]])
    return rows


def fit(
    base: str,
    rows: dict[str, list[str]],
    out: Path,
    epochs: int,
    batch_size: int,
    learning_rate: float = LEARNING_RATE,
    prefixes: tuple[str, str] | None = None,
) -> None:
    """Train `base` (a sentence-transformers folder) on the rows and save it to `out`; a model
    that reads questions and passages with their own prefixes (E5) is trained with them."""
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(base, device="cpu")
    reads = model.max_seq_length
    model.max_seq_length = min(reads, MAX_SEQ_LENGTH)  # trained on shorter texts, for memory
    with tempfile.TemporaryDirectory(prefix="chatforge-tune-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            warmup_ratio=0.1,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            disable_tqdm=True,
            logging_steps=50,
            seed=0,
            prompts=(
                {"anchor": prefixes[0], "positive": prefixes[1], "negative": prefixes[1]}
                if prefixes
                else None
            ),
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_dict(rows),
            loss=MultipleNegativesRankingLoss(model),
        )
        with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs
            trainer.train()
    model.max_seq_length = reads  # the bot's chunks were cut for the model's own length
    model.save(str(out))


def split(questions: list[qs.Question]) -> tuple[list, list, list]:
    """(training, held-out generated, the user's own) questions."""
    generated = [q for q in questions if q.generated and q.chunk is not None]
    train = [q for q in generated if not is_held_out(q)]
    held = [q for q in generated if is_held_out(q)]
    own = [q for q in questions if not q.generated and q.sources]
    return train, held, own


def measure(bot: Bot, sets: dict[str, list[qs.Question]]) -> dict[str, dict[str, float]]:
    return {name: evaluate_retrieval(bot, s)["metrics"] for name, s in sets.items() if s}


def no_worse(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> bool:
    """Whether the tuned model ranks the held-out questions as well as the bot's model did:
    MRR@10 on the user's own questions, or on the held-out generated ones when there are none
    (no held-out question at all: nothing says it is worse)."""
    name = next((n for n in ("your questions", "held-out generated") if n in before), None)
    return name is None or after[name]["mrr@10"] >= before[name]["mrr@10"] - 1e-9


def tune_retriever(
    bot: Bot,
    questions_file: Path | None = None,
    out: Path | None = None,
    epochs: int = 1,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    learning_rate: float = LEARNING_RATE,
    force: bool = False,
) -> dict[str, Any]:
    """Tune, save and re-embed; keep the tuned model when it does `no_worse` (or `force`), else
    re-embed with the bot's own model again. Before/after figures; `switched` says which."""
    from chatforge.bot import Bot

    base = bot.embedder.path  # multilingual-e5-small: its float folder
    if not (Path(base) / "modules.json").is_file() and not (Path(base) / "config.json").is_file():
        raise ChatforgeError(
            f"embedding model {bot.settings.embed.model} is not a sentence-transformers folder "
            "that can be trained; set embed.model to builtin (MiniLM) or such a folder"
        )
    where = qs.find_questions(bot.folder, questions_file)
    questions = qs.label(bot.store, qs.read_questions(where), where)
    train, held, own = split(questions)
    t0 = time.perf_counter()
    rows = training_rows(bot, train)
    if len(rows["anchor"]) < MIN_PAIRS:
        raise ChatforgeError(
            f"{where}: {len(rows['anchor'])} generated questions to train on, {MIN_PAIRS} needed;"
            " write more with `chatforge eval generate-questions --limit N` (a bot with few "
            "chunks has too few to tune on)"
        )
    sets = {"held-out generated": held, "your questions": own}
    before = measure(bot, sets)
    out = (out or bot.folder / DEFAULT_FOLDER).resolve()
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    fit(base, rows, staging, epochs, batch_size, learning_rate, bot.embedder.prefixes)
    train_s = time.perf_counter() - t0
    settings = bot.settings.model_copy(deep=True)
    settings.embed.model = str(out)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    tuned = Bot(bot.folder, settings, store=bot.store)
    tuned.reindex(reembed=True, progress=progress)
    after = measure(Bot(bot.folder, settings, store=bot.store, embedder=tuned.embedder), sets)
    switched = force or no_worse(before, after)
    if not switched:
        log.warning("the tuned model does worse on the held-out questions; keeping %s",
                    bot.settings.embed.model)  # fmt: skip
        bot.reindex(reembed=True, progress=progress)
    return {
        "model": str(out),
        "switched": switched,
        "base": bot.settings.embed.model,
        "pairs": len(rows["anchor"]),
        "held_out": len(held),
        "own": len(own),
        "epochs": epochs,
        "train_seconds": round(train_s, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "before": before,
        "after": after,
    }
