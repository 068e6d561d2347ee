"""`chatforge data prepare` end to end, its output contract, and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import cli

from chatforge.data import load_prepared
from chatforge.data.prepare import prepare
from chatforge.data.tokenize import IGNORE
from chatforge.errors import ChatforgeError

E2E_SOURCES = ["faq.md", "faq.csv", "sharegpt.jsonl", "whatsapp.txt", "alpaca.json", "oasst.jsonl"]


def one_error_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_cli_end_to_end_with_smollm2(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    proc = cli(
        "data", "prepare", *E2E_SOURCES, "--out", str(out), "--model", "smollm2",
        "--me", "Tom", "--validation", "0.3", "--max-length", "256",
        cwd=fixtures,
    )  # fmt: skip
    # --format auto says what it chose for each source, and sums up the skipped records
    assert "faq.md: markdown" in proc.stderr and "whatsapp.txt: whatsapp" in proc.stderr
    assert "skipped 3 unreadable record(s)" in proc.stderr
    assert "rows kept" in proc.stdout
    assert "Traceback" not in proc.stderr

    stats = json.loads((out / "stats.json").read_text())
    assert set(stats) == {"sources", "kept", "dropped", "splits", "model", "tokens", "skipped"}
    assert [s["format"] for s in stats["sources"]] == [
        "markdown", "csv", "sharegpt", "whatsapp", "alpaca", "oasst",
    ]  # fmt: skip
    assert stats["sources"][0]["path"] == "faq.md"  # as given: relative stays relative
    assert stats["model"] == "smollm2"
    skipped = {k: v for k, v in stats["skipped"][1].items() if k != "reason"}
    assert skipped == {"source": "sharegpt.jsonl", "line": 3}
    assert stats["splits"]["train"] + stats["splits"]["validation"] == stats["kept"]
    assert stats["splits"]["train"] > 0 and stats["splits"]["validation"] > 0
    assert set(stats["tokens"]) == {"p50", "p90", "p99", "max", "total"}
    assert 0 < stats["tokens"]["p50"] <= stats["tokens"]["max"] <= 256
    assert (out / "lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("ds.partial-*"))

    data = load_prepared(out)
    columns = {"messages", "text", "kind", "conversation_id", "source"}
    assert columns | {"input_ids", "labels", "length"} == set(data["train"].column_names)
    train_ids = set(data["train"]["conversation_id"])
    assert not train_ids & set(data["validation"]["conversation_id"])
    assert sum(len(data[s]) for s in data) == stats["kept"]
    assert sum(sum(data[s]["length"]) for s in data) == stats["tokens"]["total"]

    from transformers import AutoTokenizer

    from chatforge.llm import hf_folder

    tok = AutoTokenizer.from_pretrained(str(hf_folder("smollm2")))
    rows = [r for s in data for r in data[s]]
    assert {r["kind"] for r in rows} == {"chat", "text"}
    for row in rows:
        ids, labels = row["input_ids"], row["labels"]
        assert len(ids) == len(labels) == row["length"]
        assert all(lab in (IGNORE, i) for i, lab in zip(ids, labels, strict=True))
        if row["kind"] == "text":
            assert row["messages"] == [] and labels == ids
            assert tok.decode(ids, skip_special_tokens=True).strip() == row["text"]
            continue
        assert row["text"] == ""
        spans, current = [], []
        for i, lab in zip(ids, labels, strict=True):
            if lab == IGNORE:
                if current:
                    spans.append(current)
                current = [] if lab == IGNORE else current
            else:
                current.append(i)
        if current:
            spans.append(current)
        replies = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        assert [tok.decode(s, skip_special_tokens=True).strip() for s in spans] == replies
        # everything outside the replies (system, user, template markup) is ignored
        unlabelled = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab == IGNORE])
        for m in row["messages"]:
            if m["role"] == "user":
                assert m["content"] in unlabelled


def test_api_without_a_model(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    report = prepare(
        [fixtures / "sharegpt.jsonl", fixtures / "oasst.jsonl", fixtures / "ultrachat.jsonl"],
        out,
        validation=0.5,
        seed=3,
    )
    assert json.loads((out / "stats.json").read_text()) == json.loads(json.dumps(report.to_dict()))
    assert report.model is None and report.tokens is None
    assert report.kept == 7 and report.splits["train"] + report.splits["validation"] == 7
    data = load_prepared(out)
    assert "input_ids" not in data["train"].column_names
    assert (out / "lengths.png").is_file()
    # the same inputs and seed give the same split; a second run replaces the first
    again = prepare(
        [fixtures / "sharegpt.jsonl", fixtures / "oasst.jsonl", fixtures / "ultrachat.jsonl"],
        out,
        validation=0.5,
        seed=3,
    )
    assert again.splits == report.splits
    assert sorted(load_prepared(out)["validation"]["conversation_id"]) == sorted(
        data["validation"]["conversation_id"]
    )


def test_folder_source_and_dedup_and_pii(fixtures: Path, tmp_path: Path, run_cli) -> None:
    folder = tmp_path / "chats"
    folder.mkdir()
    (folder / "a.jsonl").write_text((fixtures / "messages.jsonl").read_text())
    (folder / "b.jsonl").write_text(
        (fixtures / "messages.jsonl").read_text()
        + json.dumps(
            {"messages": [{"role": "user", "content": "Mail me at kim@example.org"},
                          {"role": "assistant", "content": "Sure, or call +44 20 7946 0958."}]}
        )
        + "\n"
    )  # fmt: skip
    (folder / ".hidden.jsonl").write_text("not read")
    (folder / "c.js").write_text("console.log('not a Twitter archive, so read as code')")
    (folder / "d.xml").write_text("<catalog><book>not a dump chatforge reads</book></catalog>")
    code, out, err = run_cli(
        "data", "prepare", str(folder), "--out", str(tmp_path / "ds"), "--pii", "--json"
    )
    assert code == 0, err
    stats = json.loads(out)
    assert [(s["path"], s["format"]) for s in stats["sources"]] == [
        (str(folder / "a.jsonl"), "messages"),
        (str(folder / "b.jsonl"), "messages"),
        (str(folder / "c.js"), "code"),
    ]
    assert stats["kept"] == 5 and stats["dropped"] == {"duplicate": 3}
    assert [(s["source"], s["line"]) for s in stats["skipped"]] == [(str(folder / "d.xml"), None)]
    texts = [m["content"] for r in load_prepared(tmp_path / "ds")["train"] for m in r["messages"]]
    texts += [
        m["content"] for r in load_prepared(tmp_path / "ds")["validation"] for m in r["messages"]
    ]
    assert "Mail me at [EMAIL]" in texts and "Sure, or call [PHONE]." in texts


def test_malformed_lines_are_skipped_not_fatal(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "m.jsonl"
    good = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Q%d?"},
                {"role": "assistant", "content": "A%d."},
            ]
        }
    )
    src.write_text(
        "\n".join([good % (1, 1), "{oops", good % (2, 2), "[1, 2]", good % (3, 3)]) + "\n"
    )
    code, out, err = run_cli("data", "prepare", str(src), "--out", str(tmp_path / "ds"), "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert [(s["line"], s["reason"][:14]) for s in stats["skipped"]] == [
        (2, "malformed JSON"),
        (4, "not a record w"),
    ]
    assert stats["kept"] == 3


def test_invalid_json_file(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "alpaca.json"
    src.write_text('[{"instruction": "a", "output": "b"},\n  {"instruction": ]')
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(tmp_path / "ds"))
    one_error_line(code, err, "alpaca.json", "invalid JSON at line 2")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    "fmt, content, needle",
    [
        ("discord", '{"guild": {}, "channel": {}, "msgs": []}', "not a Discord JSON export"),
        ("telegram", '{"name": "x", "list": []}', "not a Telegram export"),
        ("twitter", '{"tweets": []}', "not a Twitter/X archive"),
        ("sharegpt", '[{"turns": [1, 2]}]', "no records with conversations"),
        ("oasst", '{"text": "hi"}', "no oasst messages"),
    ],
)
def test_export_of_an_unexpected_shape(tmp_path: Path, run_cli, fmt, content, needle) -> None:
    src = tmp_path / "export.json"
    src.write_text(content)
    out = tmp_path / "ds"
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(out), "--format", fmt)
    one_error_line(code, err, "export.json", needle)
    assert not out.exists() and not list(tmp_path.glob("ds.partial-*"))


def test_unknown_json_shape_under_auto(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "export.json"
    src.write_text('{"users": [], "posts": []}')
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(tmp_path / "ds"))
    one_error_line(code, err, "cannot tell which dataset", "--format")


def test_csv_without_the_named_columns(fixtures: Path, tmp_path: Path, run_cli) -> None:
    out = str(tmp_path / "ds")
    code, _, err = run_cli(
        "data", "prepare", str(fixtures / "faq.csv"), "--out", out, "--qa-columns", "Frage,Antwort"
    )
    one_error_line(code, err, "no column 'Frage' (from --qa-columns)", "'question', 'answer'")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("left,right\nx,y\n")
    code, _, err = run_cli("data", "prepare", str(sheet), "--out", out, "--format", "csv")
    one_error_line(code, err, "no question and answer columns", "--qa-columns")


def test_too_small_to_split(fixtures: Path, tmp_path: Path, run_cli) -> None:
    src = tmp_path / "one.jsonl"
    src.write_text((fixtures / "messages.jsonl").read_text().splitlines()[0] + "\n")
    out = tmp_path / "ds"
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(out))
    one_error_line(code, err, "only 1 conversation", "--validation 0")
    assert not out.exists() and not list(tmp_path.glob("ds.partial-*"))
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(out), "--validation", "0")
    assert code == 0, err
    assert len(load_prepared(out)["validation"]) == 0


def test_nothing_left_and_missing_source(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "only a question"}]}\n')
    code, _, err = run_cli("data", "prepare", str(src), "--out", str(tmp_path / "ds"))
    one_error_line(code, err, "no training rows left", "1 no exchange left")
    code, _, err = run_cli("data", "prepare", str(tmp_path / "nope.csv"), "--out", "x")
    one_error_line(code, err, "nope.csv: no such file or folder")


def test_out_that_is_not_a_dataset_is_never_replaced(fixtures: Path, tmp_path: Path, run_cli):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, _, err = run_cli("data", "prepare", str(fixtures / "ultrachat.jsonl"), "--out", str(out))
    one_error_line(code, err, "is not a prepared dataset", "another --out")
    assert (out / "thesis.tex").read_text() == "precious"


def test_leftover_of_a_dead_run_is_cleared(fixtures: Path, tmp_path: Path) -> None:
    dead = tmp_path / "ds.partial-999999999"
    dead.mkdir()
    (dead / "stats.json").write_text("{}")
    assert not _alive(999999999)
    prepare([fixtures / "ultrachat.jsonl"], tmp_path / "ds", validation=0.5)
    assert not dead.exists()
    assert load_prepared(tmp_path / "ds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_load_prepared_refuses_other_folders(tmp_path: Path) -> None:
    with pytest.raises(ChatforgeError, match=r"no such dataset folder.*data prepare"):
        load_prepared(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ChatforgeError, match=r"not a prepared dataset \(no stats.json\)"):
        load_prepared(tmp_path / "plain")
    partial = tmp_path / "ds.partial-1"
    partial.mkdir()
    with pytest.raises(ChatforgeError, match="not a prepared dataset"):
        load_prepared(partial)
