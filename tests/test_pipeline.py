"""Incremental ingestion through the real pipeline: hashing, replacing, pruning, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
from support import write_docs

from chatforge.schema import IngestReport


def statuses(report: IngestReport) -> dict[str, str]:
    return {f.path: f.status for f in report.files}


def test_ingest_folder_then_unchanged_is_skipped_without_embedding(make_bot, docs):
    bot = make_bot()
    first = bot.ingest(["."])
    assert first.totals["ingested"] == 4 and first.totals["failed"] == 0
    assert first.chunks_embedded > 0
    paths = {d.path for d in bot.sources()}
    assert "guide/install.md" in paths  # relative as given, without a ./ prefix
    csv_rows = [d for d in bot.sources() if d.path == "faq.csv"]
    assert len(csv_rows) == 2  # one document per FAQ row

    again = bot.ingest(["."])
    assert again.totals == {**again.totals, "ingested": 0, "unchanged": 4}
    assert again.chunks_embedded == 0


def test_changed_file_is_replaced_and_only_new_text_embedded(make_bot, docs):
    bot = make_bot()
    bot.ingest(["guide"])
    before = {d.path: d for d in bot.sources()}
    p = docs / "guide/install.md"
    p.write_text(p.read_text() + "\n## Upgrading\n\nRun `apt upgrade widget` for new releases.\n")
    report = bot.ingest(["guide"])
    assert statuses(report) == {"guide/install.md": "ingested", "guide/network.md": "unchanged"}
    assert report.chunks_embedded == 1  # the untouched sections reuse their stored vectors
    after = {d.path: d for d in bot.sources()}
    assert after["guide/install.md"].hash != before["guide/install.md"].hash
    assert after["guide/install.md"].chunks == before["guide/install.md"].chunks + 1
    hits = bot.search("how to upgrade widget", k=1)
    assert "apt upgrade widget" in hits[0].text


def test_prune_removes_vanished_files_under_the_given_roots(make_bot, docs):
    bot = make_bot()
    bot.ingest(["guide", "notes"])
    os.remove(docs / "guide/network.md")
    os.remove(docs / "notes/animals.txt")
    report = bot.ingest(["guide"], prune=True)
    assert statuses(report)["guide/network.md"] == "removed"
    left = {d.path for d in bot.sources()}
    assert left == {"guide/install.md", "notes/animals.txt"}  # notes/ was not a root
    assert all(h.source != "guide/network.md" for h in bot.search("widget port", k=5))


def test_forget_removes_one_file_from_search(make_bot, docs):
    bot = make_bot()
    bot.ingest(["."])
    assert bot.forget("notes/animals.txt")
    assert not bot.forget("notes/animals.txt")
    assert all(h.source != "notes/animals.txt" for h in bot.search("zebra migration", k=10))


def test_hidden_gitignored_and_globbed_paths(make_bot, docs):
    (docs / ".hidden").mkdir()
    (docs / ".hidden/secret.md").write_text("# Secret\n\nhidden text\n")
    (docs / "build").mkdir()
    (docs / "build/out.md").write_text("# Built\n\ngenerated text\n")
    (docs / ".gitignore").write_text("build/\n*.csv\n")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    bot = make_bot()
    report = bot.ingest(["."], exclude=["notes/*"])
    got = statuses(report)
    assert set(got) == {"guide/install.md", "guide/network.md", "image.png"}
    assert got["image.png"] == "skipped"
    only = make_bot(name="only").ingest(["."], include=["guide/*"])
    assert {f.path for f in only.files if f.status == "ingested"} == {
        "guide/install.md",
        "guide/network.md",
    }


def test_bad_inputs_fail_alone_with_reasons(make_bot, docs):
    bad = docs / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02ELF\x00" * 100)
    latin = "caf\xe9 cr\xe8me br\xfbl\xe9e, d\xe9j\xe0 vu"
    (bad / "latin.txt").write_bytes(latin.encode("latin-1"))
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (bad / "nocols.csv").write_text("alpha,beta\n1,2\n")
    big = bad / "big.txt"
    with open(big, "wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(200 * 1024 * 1024)
    os.symlink(bad / "loop_b", bad / "loop_a")
    os.symlink(bad / "loop_a", bad / "loop_b")
    bot = make_bot()
    report = bot.ingest(["bad", "guide", "does/not/exist.md", "bad/loop_a"])
    reasons = {f.path: f.reason for f in report.files}
    got = statuses(report)
    assert got["guide/install.md"] == "ingested"  # the rest of the batch goes on
    assert "empty" in reasons["bad/empty.txt"]
    assert "binary" in reasons["bad/binary.txt"]
    assert "100 MB" in reasons["bad/big.txt"]
    assert "pdf" in reasons["bad/broken.pdf"].lower()
    assert "alpha" in reasons["bad/nocols.csv"]  # names the columns it found
    assert reasons["does/not/exist.md"] == "no such file or directory"
    assert reasons["bad/loop_a"] == "symlink loop"
    for path in ("bad/empty.txt", "bad/binary.txt", "bad/big.txt", "bad/broken.pdf"):
        assert got[path] == "failed" and "\n" not in reasons[path]
    stored = {d.path for d in bot.sources()}
    assert not any(p.startswith("bad/") and p != "bad/latin.txt" for p in stored)


def test_search_filters_and_halves(make_bot, docs):
    bot = make_bot()
    bot.ingest(["."])
    hits = bot.search("which port does the daemon listen on", k=3)
    assert hits[0].source == "guide/network.md"
    h = hits[0]
    doc_text = bot.store.db.execute("SELECT text FROM documents WHERE id=?", (h.doc_id,)).fetchone()
    assert doc_text[0][h.start : h.end] == h.text  # offsets point into the extracted text
    only_notes = bot.search("daemon port", k=3, filters={"source": "notes/*"})
    assert {x.source for x in only_notes} <= {"notes/animals.txt"}
    bot.settings.retrieve.lexical = False
    assert bot.search("daemon listening port", k=1)[0].source == "guide/network.md"
    bot.settings.retrieve.lexical, bot.settings.retrieve.dense = True, False
    assert bot.search("7341", k=1)[0].source == "guide/network.md"  # an exact rare token
    bot.settings.retrieve.dense = True
    bot.settings.retrieve.mmr = True
    assert len(bot.search("widget", k=3)) == 3


def test_query_limits(make_bot, docs):
    from chatforge.errors import ChatforgeError

    bot = make_bot()
    bot.ingest(["guide"])
    with pytest.raises(ChatforgeError, match="query is empty"):
        bot.search("   ")
    with pytest.raises(ChatforgeError, match="102400 characters"):
        bot.search("x" * 102400)


def test_changing_embedding_model_is_refused_then_reembedded(make_bot, docs, tmp_path):
    from chatforge.bot import Bot
    from chatforge.errors import ConfigError

    bot = make_bot()
    bot.ingest(["guide"])
    bot.close()
    # A copy of the same weights under another name stands in for a second model: the point
    # is that vectors are tied to the configured model's identity.
    import shutil

    from chatforge.models import resolve_embedder

    other = tmp_path / "other-model"
    shutil.copytree(resolve_embedder("all-MiniLM-L6-v2"), other)
    cfg = bot.folder / "chatforge.yaml"
    cfg.write_text(cfg.read_text().replace("model: all-MiniLM-L6-v2", f"model: {other}"))
    again = Bot(bot.folder)
    with pytest.raises(ConfigError, match="reindex --reembed"):
        again.search("install")
    with pytest.raises(ConfigError, match="reindex --reembed"):
        again.ingest(["guide"])
    assert again.reindex(reembed=True) > 0
    assert again.search("how to remove widget", k=1)[0].source == "guide/install.md"


def test_a_question_is_embedded_once_however_many_parts_need_its_vector(embedder):
    """Retrieval, the relevance floor, compression and memory recall share one query vector."""
    first = embedder.encode_query("which port does the daemon use")
    assert embedder.encode_query("which port does the daemon use") is first
    assert np.allclose(first, embedder.encode(["which port does the daemon use"])[0], atol=1e-5)
    with pytest.raises(ValueError):
        first[0] = 0.0  # shared, so nobody may change it in place


def test_recurring_passage_sentences_reach_the_model_once(embedder, monkeypatch):
    """Compressing passages embeds their sentences; the ones seen lately come from the cache."""
    texts = ["The daemon listens on port 8080.", "Logs go to /var/log/widget."]
    first = embedder.encode_recurring(texts)
    assert np.allclose(first, embedder.encode(texts), atol=1e-5)
    embedded: list[list[str]] = []
    encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda t: embedded.append(list(t)) or encode(t))
    new = "Restart it with systemctl restart widget."
    again = embedder.encode_recurring([texts[1], new, new, texts[0]])
    assert embedded == [[new]]
    assert np.allclose(again[[0, 3]], first[[1, 0]]) and np.allclose(again[1], again[2])


def many_notes(folder, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"note{i:03}.md").write_text(f"# Note {i}\n\nThe number {i} is written here.\n")


def test_the_next_files_are_read_while_a_group_is_embedded(make_bot, tmp_path, monkeypatch):
    """The embedding of the first group waits until the reader has read a file of the second."""
    import threading

    import chatforge.ingest.pipeline as pipeline

    many_notes(tmp_path / "notes", 12)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "FILE_GROUP", 4)
    bot = make_bot()
    read_ahead = threading.Event()
    prepare = pipeline.Ingestor._prepare

    def spy(self, cand, known):
        if cand.source == "notes/note004.md":
            read_ahead.set()
        return prepare(self, cand, known)

    encode = bot.embedder.encode
    waited = []

    def slow_encode(texts, progress=None, bulk=False):
        waited.append(read_ahead.wait(timeout=30))
        return encode(texts, progress, bulk)

    monkeypatch.setattr(pipeline.Ingestor, "_prepare", spy)
    monkeypatch.setattr(bot.embedder, "encode", slow_encode)
    report = bot.ingest(["notes"])
    assert waited[0] is True and len(waited) == 3
    assert [f.path for f in report.files] == [f"notes/note{i:03}.md" for i in range(12)]
    assert report.totals["ingested"] == 12


def test_a_failed_embedding_stops_the_reader_and_stores_nothing(make_bot, tmp_path, monkeypatch):
    """The embedding fails while the reader is inside a long second group: it reads no further
    than a few files, rather than the whole group, and no file is stored."""
    import threading
    import time

    import chatforge.ingest.pipeline as pipeline

    many_notes(tmp_path / "notes", 200)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "FILE_GROUP", 1)  # the first group is the first file...
    bot = make_bot()
    read = []
    reading_on = threading.Event()
    prepare = pipeline.Ingestor._prepare

    def spy(self, cand, known):
        read.append(cand.source)
        if len(read) == 2:
            monkeypatch.setattr(pipeline, "FILE_GROUP", 1000)  # ...the second, all the others
        if len(read) == 5:
            reading_on.set()
        time.sleep(0.005)
        return prepare(self, cand, known)

    def broken(texts, progress=None, bulk=False):
        reading_on.wait(timeout=30)
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(pipeline.Ingestor, "_prepare", spy)
    monkeypatch.setattr(bot.embedder, "encode", broken)
    with pytest.raises(RuntimeError, match="fell over"):
        bot.ingest(["notes"])
    assert 5 <= len(read) < 100
    assert bot.sources() == []


# ---------------------------------------------------------------------------- spellings

NOTES = {
    "notes/été.md": "# Carnet d'été\n\nLes cigales chantent tout l'après-midi dans les pins.\n",
    "guide/garden.md": "# Garden\n\nThe heron waits for frogs at the edge of the pond.\n",
}


def spellings(root, rel: str) -> list[str]:
    """Ways to name one file: as is, ./, a detour through .., absolute, and a symlink."""
    folder, name = os.path.split(rel)
    link = root / f"link-{name}"
    link.symlink_to(root / rel)
    return [rel, f"./{rel}", f"{folder}/../{rel}", str(root / rel), link.name]


@pytest.mark.parametrize("rel", list(NOTES))
def test_every_spelling_of_a_file_is_one_document(make_bot, tmp_path, monkeypatch, rel):
    root = write_docs(tmp_path / "corpus", NOTES)
    monkeypatch.chdir(root)
    bot = make_bot()
    names = spellings(root, rel)
    for name in names:
        assert [f.path for f in bot.ingest([name]).files] == [rel]
    assert [d.path for d in bot.sources()] == [rel]
    together = bot.ingest([*names, "."])
    assert sorted(f.path for f in together.files) == sorted(NOTES)  # each file once
    assert sorted(d.path for d in bot.sources()) == sorted(NOTES)
    query = "cigales dans les pins" if rel.startswith("notes") else "heron waits for frogs"
    assert bot.search(query, k=1)[0].source == rel  # relative stays relative


def test_forget_and_prune_accept_any_spelling(make_bot, tmp_path, monkeypatch):
    root = write_docs(tmp_path / "corpus", NOTES)
    monkeypatch.chdir(root)
    bot = make_bot()
    bot.ingest(["."])
    assert bot.forget(str(root / "notes/été.md"))
    assert not bot.forget("./notes/../notes/été.md")
    assert [d.path for d in bot.sources()] == ["guide/garden.md"]
    os.remove(root / "guide/garden.md")
    report = bot.ingest([str(root / "guide")], prune=True)
    assert statuses(report) == {"guide/garden.md": "removed"}
    assert bot.sources() == []


@pytest.mark.parametrize("rel", list(NOTES))
def test_a_stored_duplicate_spelling_is_merged_on_the_next_ingest(
    make_bot, tmp_path, monkeypatch, rel
):
    """Older versions stored a path as spelled (and merged nothing), so a bot could hold one file
    twice. The first two ingests run with that rule (patched in) to build such a bot; the third
    is the real one."""
    import chatforge.ingest.pipeline as pipeline

    root = write_docs(tmp_path / "corpus", NOTES)
    monkeypatch.chdir(root)
    bot = make_bot()
    with monkeypatch.context() as old:
        old.setattr(pipeline, "canonical_source", os.path.normpath)
        old.setattr(pipeline, "merge_spellings", lambda store, seen: [])
        bot.ingest([str(root / rel)])
        bot.ingest([f"./{rel}"])
    assert sorted(d.path for d in bot.sources()) == sorted([rel, str(root / rel)])
    report = bot.ingest([f"{rel}"])
    assert statuses(report) == {rel: "unchanged", str(root / rel): "removed"}
    assert [d.path for d in bot.sources()] == [rel]
    query = "cigales dans les pins" if rel.startswith("notes") else "heron waits for frogs"
    assert {h.source for h in bot.search(query, k=5)} == {rel}


@pytest.mark.parametrize("marks", ["#\n", "---\n\n", "* * *\n\n"])
def test_lines_of_marks_alone_make_no_chunks(make_bot, tmp_path, marks):
    """A file of bare headings or rules (a hostile upload) indexes only its real text."""
    path = tmp_path / "marks.md"
    body = "Le routeur se réinitialise avec le bouton arrière. The router resets from the back."
    path.write_text(marks * 5000 + body + "\n" + marks * 5000, encoding="utf-8")
    bot = make_bot()
    report = bot.ingest([str(path)])
    assert report.totals["ingested"] == 1
    assert bot.store.chunk_count() == 1
    assert "routeur" in bot.search("comment réinitialiser le routeur ?", 1)[0].text
    only_marks = tmp_path / "only.md"
    only_marks.write_text(marks * 5000, encoding="utf-8")
    [result] = bot.ingest([str(only_marks)]).files
    assert (result.status, result.reason) == ("skipped", "no text to index")


def test_a_file_over_the_chunk_cap_is_skipped_with_the_setting_named(make_bot, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n\n".join(f"Paragraph {i} says something." for i in range(400)))
    bot = make_bot()
    bot.settings.ingest.max_chunks_per_file = 3
    [result] = bot.ingest([str(path)]).files
    assert result.status == "skipped"
    assert "ingest.max_chunks_per_file" in result.reason and "split the file" in result.reason
    assert bot.sources() == []
