"""Crash safety and concurrency with real processes: kill -9 mid-ingest, search while ingesting."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from chatforge.bot import Bot

WORDS = [
    *("kernel module driver package mirror archive release testing stable unstable").split(),
    *("security update upgrade install remove purge config network bridge firewall").split(),
    *("route address keyboard locale timezone printer scanner display sound").split(),
]


def write_corpus(root: Path, files: int = 12, paragraphs: int = 30) -> None:
    root.mkdir(parents=True)
    for i in range(files):
        body = []
        for j in range(paragraphs):
            words = [WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(28)]
            body.append(f"Topic {i}-{j}: " + " ".join(words) + ".")
        (root / f"doc{i:02d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(body) + "\n")


def committed_files(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


FILES = 24
"""About 60 chunks each: the ingest embeds and commits them in three groups (EMBED_GROUP), so
seconds pass between the first commit and the last, for a search and then the kill."""


def test_kill_during_ingest_leaves_whole_documents_and_rerun_completes(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, files=FILES)
    bot = Bot.init(tmp_path / "bot")
    env = {**os.environ, "CHATFORGE_INGEST__CHUNK_TOKENS": "32"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatforge", "ingest", str(corpus), "--bot", str(bot.folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = bot.data_dir / "chatforge.db"
    searched_during_ingest = 0
    deadline = time.monotonic() + 600
    reader = Bot(bot.folder, embedder=embedder)
    while committed_files(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # A second process searches while the first is still writing.
    while proc.poll() is None and searched_during_ingest < 1:
        assert reader.search("kernel driver module", k=3)
        searched_during_ingest += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = committed_files(db)
    assert 0 < done < FILES, "the kill should land mid-ingest"
    assert searched_during_ingest > 0

    os.environ["CHATFORGE_INGEST__CHUNK_TOKENS"] = "32"
    try:
        after = Bot(bot.folder, embedder=embedder)
        for doc in after.sources():  # every committed document is whole, keyword index too
            fts = after.store.db.execute(
                "SELECT count(*) FROM chunks_fts WHERE rowid IN "
                "(SELECT id FROM chunks WHERE doc_id=?)",
                (doc.id,),
            ).fetchone()[0]
            assert doc.chunks > 0 and fts == doc.chunks
        hits = after.search("kernel driver module", k=3)
        assert hits and all(Path(h.source).exists() for h in hits)
        report = after.ingest([str(corpus)])
        assert report.totals["unchanged"] == done
        assert report.totals["ingested"] == FILES - done
        assert len(after.sources()) == FILES
        counts = {d.path: d.chunks for d in after.sources()}
        fresh = Bot(Bot.init(tmp_path / "fresh").folder, embedder=embedder)
        fresh.ingest([str(corpus)])
        assert counts == {d.path: d.chunks for d in fresh.sources()}
        assert len(after.store.index()) == after.store.chunk_count()
    finally:
        del os.environ["CHATFORGE_INGEST__CHUNK_TOKENS"]


def test_stale_or_corrupt_index_is_rebuilt_from_sqlite(make_bot, docs, caplog):
    bot = make_bot()
    bot.ingest(["."])
    n = bot.store.chunk_count()
    bot.close()
    record = json.loads((bot.data_dir / "index.json").read_text())
    (bot.data_dir / record["file"]).write_bytes(b"not a faiss index")
    reopened = Bot(bot.folder, embedder=bot.embedder)
    with caplog.at_level("INFO", logger="chatforge.store"):
        assert reopened.search("daemon port", k=1)[0].source == "guide/network.md"
    assert "catching up from SQLite" in caplog.text
    assert len(reopened.store.index()) == n
    (bot.data_dir / "index.json").unlink()
    again = Bot(bot.folder, embedder=bot.embedder)
    assert again.search("zebra", k=1)[0].source == "notes/animals.txt"


def test_hnsw_index_gives_same_top_hit(make_bot, docs):
    bot = make_bot()
    bot.settings.store.index = "hnsw"
    bot.ingest(["."])
    assert bot.store.index().kind == "hnsw"
    assert bot.search("which port does the daemon use", k=1)[0].source == "guide/network.md"
    bot.forget("guide/network.md")
    assert all(h.source != "guide/network.md" for h in bot.search("daemon port", k=5))
