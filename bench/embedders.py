"""Embedding models side by side: throughput and peak ingest memory, E5 vs MiniLM.

Each model ingests the French Debian FAQ (bench/corpora.py fetches it with `apt-get download
debian-faq-fr`) into a fresh bot, in a subprocess of its own, so its peak RSS is its own; then
the same subprocess embeds the bot's chunk texts again, alone, for the throughput (chunks/s).
The models take turns over `--repeat` rounds (order swapped each round) and the figure is the
median; the ratio is against MiniLM measured in the same run.

Run from the repository root: ``python bench/embedders.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import corpora
from common import offline, table

MODELS = ("all-MiniLM-L6-v2", "multilingual-e5-small")


def side(model: str, work: Path) -> dict[str, float]:
    """Ingest the French FAQ with `model`, then embed its chunks again: what one run costs."""
    from chatforge.bot import Bot
    from chatforge.config import Settings

    faq = corpora.debian_faq_fr()
    settings = Settings()
    settings.embed.model = model
    bot = Bot(Bot.init(work / "bot", exist_ok=True).folder, settings)
    start = time.perf_counter()
    bot.ingest([str(faq / p) for p in corpora.debian_faq_pages(faq, "fr")])
    ingest_s = time.perf_counter() - start
    texts = [row[0] for row in bot.store.db.execute("select text from chunks")]
    start = time.perf_counter()
    bot.embedder.encode(texts, bulk=True)
    embed_s = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"chunks": len(texts), "chunks_s": len(texts) / embed_s, "ingest_s": ingest_s,
            "peak_mb": peak_mb}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    if args.side:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(side(args.side, Path(tmp))))
        return
    corpora.debian_faq_fr()  # fetched once, outside the timed runs
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
    for round_ in range(args.repeat):
        for model in MODELS if round_ % 2 == 0 else MODELS[::-1]:
            out = subprocess.run(
                [sys.executable, __file__, "--side", model],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            runs[model].append(json.loads(out.strip().splitlines()[-1]))
            print(f"  round {round_ + 1} {model}: {runs[model][-1]}", flush=True)
    med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}
    rows = [[m, v["chunks"], v["chunks_s"], v["ingest_s"], v["peak_mb"]] for m, v in med.items()]
    print(table(rows, ["model", "chunks", "chunks/s", "ingest s", "peak MB"]))
    e5, minilm = med["multilingual-e5-small"], med["all-MiniLM-L6-v2"]
    print(
        f"SUMMARY embedders: multilingual-e5-small {e5['chunks_s']:.1f} chunks/s = "
        f"{e5['chunks_s'] / minilm['chunks_s']:.2f}x MiniLM ({minilm['chunks_s']:.1f}); peak "
        f"ingest memory {e5['peak_mb']:.0f} MB (MiniLM {minilm['peak_mb']:.0f} MB); targets: "
        f">= 0.5x {'yes' if e5['chunks_s'] >= 0.5 * minilm['chunks_s'] else 'NO'}, "
        f"< 1.5 GB {'yes' if e5['peak_mb'] < 1536 else 'NO'}"
    )


if __name__ == "__main__":
    main()
