"""`chatforge lab lm` end to end on a small corpus, and the mistakes a user can make."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chatforge.errors import ChatforgeError
from chatforge.lab.cli import app

runner = CliRunner()

SOURCE = (
    "the a model token attention layer reads writes each word state memory long short "
    "context vector learns predicts next sentence text and of to in"
)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a small shared machine, extra threads slow tiny models down."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def write_corpus(folder: Path, paragraphs: int = 60) -> Path:
    """A few pages of word salad split over two files: enough text, quick to train on."""
    rng = random.Random(0)
    words = SOURCE.split()
    folder.mkdir()
    for name in ("a.md", "b.txt"):
        text = "\n\n".join(
            " ".join(rng.choice(words) for _ in range(60)).capitalize() + "."
            for _ in range(paragraphs // 2)
        )
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "ignored.csv").write_text("not,part,of,the,corpus\n", encoding="utf-8")
    return folder


def test_lm_writes_a_report_whose_numbers_come_from_the_run(tmp_path: Path) -> None:
    corpus, out = write_corpus(tmp_path / "corpus"), tmp_path / "out"
    result = runner.invoke(
        app, ["lm", "--corpus", str(corpus), "--minutes", "0.1", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)  # --json: the metrics and nothing else on stdout
    assert metrics == json.loads((out / "metrics.json").read_text())
    for name in (
        "report.md",
        "metrics.json",
        "ppl_vs_time.png",
        "ppl_vs_tokens.png",
        "probe_accuracy.png",
        "attention_map.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert metrics["corpus"]["files"] == 2
    assert metrics["tokenizer"]["kind"] == "bpe"
    lstm, tr = metrics["lstm"], metrics["transformer"]
    assert abs(lstm["params"] - tr["params"]) / tr["params"] < 0.10
    for m in (lstm, tr):
        assert m["steps"] >= 1 and m["tokens_seen"] > 0 and m["tokens_per_s"] > 0
        assert set(m["probe"]["accuracy"]) == {str(d) for d in metrics["probe"]["distances"]}
        assert m["sample"].startswith(metrics["sampling"]["prompt"])
    report = (out / "report.md").read_text()
    assert f"{tr['final_val_ppl']:.2f} vs the LSTM's {lstm['final_val_ppl']:.2f}" in report
    assert f"{lstm['tokens_seen']:,}" in report
    assert all(sentence in report for sentence in metrics["summary"])
    assert "![attention map](attention_map.png)" in report


def test_the_summary_names_the_winner_the_numbers_show() -> None:
    from chatforge.lab.report import compare, summary

    def model(ppl: float, acc: float) -> dict:
        return {
            "params": 1000,
            "final_val_ppl": ppl,
            "tokens_per_s": 10.0,
            "tokens_seen": 100,
            "steps": 100,
            "curve": [{"tokens": 0, "val_loss": 5.0}, {"tokens": 100, "val_loss": 2.0}],
            "probe": {"accuracy": {"8": acc, "16": acc}},
        }

    metrics = {
        "lstm": model(20.0, 0.95),
        "transformer": model(30.0, 0.5),
        "budget": {"lm_seconds_per_model": 60},
        "probe": {"chance": 0.125},
    }
    text = " ".join(summary(metrics, compare(metrics)))
    assert "30.00 vs the LSTM's 20.00" in text
    assert "the LSTM is ahead of the Transformer" in text
    assert "LSTM recalled" not in text and "the LSTM up to D=16" in text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--corpus", "no/such/file.txt"], "does not exist"),
        (["--tokenizer", "words"], "--tokenizer bpe"),
        (["--minutes", "0"], "--minutes"),
    ],
)
def test_user_mistakes_raise_one_line_errors(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["lm", *args])
    assert isinstance(result.exception, ChatforgeError), result.output
    message = str(result.exception)
    assert fragment in message and "\n" not in message


def test_a_corpus_too_small_or_empty_is_refused(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("Too short to learn from.", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    for corpus, fragment in ((small, "at least"), (empty, "no .md, .txt or .rst")):
        result = runner.invoke(app, ["lm", "--corpus", str(corpus)])
        assert isinstance(result.exception, ChatforgeError)
        assert fragment in str(result.exception) and str(corpus) in str(result.exception)


def test_the_cli_module_imports_without_torch() -> None:
    code = (
        "import sys, chatforge.lab.cli; sys.exit(bool({'torch', 'matplotlib'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
