"""`chatforge eval perplexity` against a direct transformers computation on the same text.

The dataset is written with `datasets.DatasetDict.save_to_disk` in the shape `chatforge data
prepare` writes, so the test does not depend on the readers.
"""

from __future__ import annotations

import json
import math

import pytest
from support import cli

TEXT = "The widget daemon listens on port 7341. Change it in /etc/widget/widget.conf."
CHAT = [
    {"role": "user", "content": "Which port does the widget use?"},
    {"role": "assistant", "content": "Port 7341, unless widget.conf says otherwise."},
]


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    from datasets import Dataset, DatasetDict

    def row(i, messages, text, kind):
        return {
            "messages": messages,
            "text": text,
            "kind": kind,
            "conversation_id": f"c{i}",
            "source": "known.txt",
        }

    rows = [row(0, [], TEXT, "text"), row(1, CHAT, "", "chat")]
    folder = tmp_path_factory.mktemp("ppl") / "known"
    DatasetDict(
        {"train": Dataset.from_list(rows), "validation": Dataset.from_list(rows)}
    ).save_to_disk(str(folder))
    return folder


def direct_perplexity() -> float:
    """exp of the label-token-weighted mean of transformers' own per-row losses."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chatforge.data.tokenize import tokenize_row
    from chatforge.llm import hf_folder

    folder = hf_folder("smollm2")
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    total = count = 0.0
    for row in ({"messages": [], "text": TEXT}, {"messages": CHAT, "text": ""}):
        ex = tokenize_row(tok, row, 1024)
        labels = torch.tensor([ex["labels"]])
        n = int((labels[:, 1:] != -100).sum())
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([ex["input_ids"]]), labels=labels).loss
        total += loss.item() * n
        count += n
    return math.exp(total / count)


def test_perplexity_matches_transformers(known):
    from chatforge.evaluate.perplexity import evaluate_perplexity

    got = evaluate_perplexity("smollm2", known)
    assert got["rows"] == 2 and got["tokens"] > 20
    assert got["perplexity"] == pytest.approx(direct_perplexity(), rel=1e-4)


def test_cli_prints_the_same_number(known):
    from chatforge.evaluate.perplexity import evaluate_perplexity

    out = json.loads(cli("eval", "perplexity", "smollm2", str(known), "--json").stdout)
    assert out["perplexity"] == pytest.approx(
        evaluate_perplexity("smollm2", known)["perplexity"], rel=1e-4
    )


def test_missing_split_is_one_line(known):
    proc = cli("eval", "perplexity", "smollm2", str(known), "--split", "test", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "validation" in proc.stderr
