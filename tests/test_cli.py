"""The real `chatforge` command in subprocesses: JSON contracts and one-line errors."""

from __future__ import annotations

import json

from support import cli, write_docs

HIT_FIELDS = {"text", "score", "source", "title", "section", "start", "end", "chunk_id", "doc_id"}


def test_init_ingest_search_sources_forget_json(tmp_path):
    write_docs(tmp_path)
    assert cli("init", "bot", "--profile", "assistant", cwd=tmp_path).returncode == 0
    out = cli("ingest", "guide", "notes", "--bot", "bot", "--json", cwd=tmp_path).stdout
    report = json.loads(out)  # --json: nothing but JSON on stdout
    assert report["totals"]["ingested"] == 3 and report["totals"]["failed"] == 0

    hits = json.loads(
        cli("search", "uninstall widget", "-k", "2", "--bot", "bot", "--json", cwd=tmp_path).stdout
    )
    assert len(hits) == 2 and set(hits[0]) >= HIT_FIELDS
    assert hits[0]["source"] == "guide/install.md"

    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert {d["path"] for d in docs} == {
        "guide/install.md",
        "guide/network.md",
        "notes/animals.txt",
    }
    assert all({"path", "hash", "chunks", "ingested_at"} <= set(d) for d in docs)

    cli("forget", "notes/animals.txt", "--bot", "bot", cwd=tmp_path)
    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert "notes/animals.txt" not in {d["path"] for d in docs}

    env = {"CHATFORGE_BOT": str(tmp_path / "bot"), "CHATFORGE_RETRIEVE__TOP_K": "1"}
    hits = json.loads(cli("search", "daemon port", "--json", cwd=tmp_path, env=env).stdout)
    assert len(hits) == 1 and hits[0]["source"] == "guide/network.md"


def test_user_errors_are_one_line_without_traceback(tmp_path):
    cli("init", "bot", cwd=tmp_path)
    cases = [
        ("search", "", "--bot", "bot"),
        ("search", "x" * 102400, "--bot", "bot"),
        ("search", "hello", "--bot", "nowhere"),
        ("forget", "missing.md", "--bot", "bot"),
        ("init", "bot"),
    ]
    for args in cases:
        proc = cli(*args, cwd=tmp_path, check=False)
        assert proc.returncode != 0, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args[0], proc.stderr)
        assert "Traceback" not in proc.stderr
    bad = cli(
        "search",
        "hi",
        "--bot",
        "bot",
        cwd=tmp_path,
        check=False,
        env={"CHATFORGE_RETRIEVE__TOP_K": "lots"},
    )
    assert "CHATFORGE_RETRIEVE__TOP_K" in bad.stderr and bad.returncode != 0


def test_ingest_reports_failures_and_keeps_going(tmp_path):
    write_docs(tmp_path)
    (tmp_path / "empty.md").write_text("")
    cli("init", "bot", cwd=tmp_path)
    proc = cli("ingest", "empty.md", "guide", "nope.txt", "--bot", "bot", cwd=tmp_path)
    assert "failed: empty.md: empty file" in proc.stderr
    assert "failed: nope.txt: no such file or directory" in proc.stderr
    assert "ingested 2" in proc.stdout and "failed 2" in proc.stdout
