"""`chatforge finetune --method full` end to end, and its run name used wherever a model is
named: `--model` options, the model argument of `chatforge eval`, and CHATFORGE_LLM__MODEL."""

from __future__ import annotations

import json
import math

import pytest
from support import cli


@pytest.fixture(scope="module")
def full_run(ft_cache, widget_dataset, tmp_path_factory):
    """A real full fine-tune of SmolLM2 through the CLI: two steps on short sequences, no GGUF
    (the merged folder is what a full run serves then)."""
    out = tmp_path_factory.mktemp("full") / "widget-full"
    proc = cli(
        "finetune", str(widget_dataset), "--method", "full", "--out", str(out),
        "--max-steps", "2", "--eval-steps", "2", "--batch-size", "2", "--grad-accum", "1",
        "--max-length", "48", "--lr", "1e-4", "--no-gguf", "--json",
    )  # fmt: skip
    return out, json.loads(proc.stdout)


def test_full_run_saves_a_whole_model_that_loads_and_generates(full_run):
    from chatforge.llm import GenOptions, open_llm
    from chatforge.llm.transformers_backend import TransformersLLM

    out, summary = full_run
    assert summary["method"] == "full" and summary["steps"] == 2
    assert (out / "merged" / "config.json").is_file() and not (out / "adapter").exists()
    assert math.isfinite(summary["perplexity_before"]) and math.isfinite(
        summary["perplexity_after"]
    )
    llm = open_llm(summary["name"], device="cpu")  # the run's name, resolved like any model
    assert isinstance(llm, TransformersLLM) and llm.name == summary["name"]
    gen = llm.generate(
        [{"role": "user", "content": "What colour is the widget?"}], GenOptions(max_tokens=8)
    )
    assert gen.text.strip() and gen.completion_tokens > 0


def test_run_name_scores_and_tokenizes_from_the_cli(full_run, widget_dataset, tmp_path):
    out, summary = full_run
    name = summary["name"]
    scored = json.loads(cli("eval", "perplexity", name, str(widget_dataset), "--json").stdout)
    assert math.isfinite(scored["perplexity"]) and scored["tokens"] > 0
    (tmp_path / "notes.md").write_text(
        "# Widget\n\nLe widget est d'un bleu sarcelle éclatant et écoute sur le port 7341.\n",
        encoding="utf-8",
    )
    prepared = cli(
        "data", "prepare", str(tmp_path / "notes.md"), "--model", name, "--validation", "0",
        "--out", str(tmp_path / "ds"), "--json",
    )  # fmt: skip
    report = json.loads(prepared.stdout)
    assert report["model"] == name and report["tokens"]["total"] > 0


def test_run_name_in_the_environment_is_the_bots_model(full_run, tmp_path):
    out, summary = full_run
    cli("init", str(tmp_path / "bot"))
    proc = cli(
        "models", "--bot", str(tmp_path / "bot"), "--json",
        env={"CHATFORGE_LLM__MODEL": summary["name"]},
    )  # fmt: skip
    row = next(r for r in json.loads(proc.stdout) if r["configured"])
    assert row["name"] == summary["name"] and row["loads"]
    assert row["path"] == str((out / "merged").resolve())
