"""The comparison report: scores from rouge-score and the embedder, Markdown and PNG plots."""

from __future__ import annotations

import pytest

from chatforge.errors import ChatforgeError
from chatforge.evaluate.compare import QA, Setup, first_exchange, read_questions, score
from chatforge.evaluate.report import write_report


def test_scores_reward_the_answer_closer_to_the_reference(embedder, tmp_path):
    questions = [QA("Which port?", "The daemon listens on port 7341.")]
    close = Setup(
        "close", "m", perplexity=3.0, answers=[{"answer": "It listens on port 7341.", "ms": 5.0}]
    )
    far = Setup("far", "m", perplexity=9.0, answers=[{"answer": "Zebras eat grass.", "ms": 7.0}])
    rows = score([close, far], questions, embedder)
    assert rows[0]["token_f1"] > rows[1]["token_f1"]
    assert rows[0]["rouge_l"] > rows[1]["rouge_l"]
    assert rows[0]["cosine"] > rows[1]["cosine"]
    report = write_report(tmp_path, "test", rows, [])
    text = report.read_text()
    assert "| close |" in text and "![scores](scores.png)" in text
    assert (tmp_path / "scores.png").stat().st_size > 1000


def test_first_exchange_skips_the_system_turn():
    qa = first_exchange(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
        ]
    )
    assert qa == QA("Hi?", "Hello.")


def test_questions_file_with_a_bad_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a", "answer": "b"}\n{"oops": 1}\n', encoding="utf-8")
    with pytest.raises(ChatforgeError, match="line 2"):
        read_questions(path)
