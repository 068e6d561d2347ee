"""Fine-tuning for real: a few LoRA steps on SmolLM2, exported and served back."""

from __future__ import annotations

import json

from support import cli

from chatforge.evaluate.report import read_metrics


def test_training_lowers_loss_and_perplexity(finetuned_run):
    out, summary = finetuned_run
    rows = read_metrics(out / "metrics.csv")
    losses = [r["loss"] for r in rows if r["loss"] is not None]
    assert len(losses) >= 3
    assert min(losses[1:]) < losses[0]
    assert summary["perplexity_after"] < summary["perplexity_before"]
    assert summary["steps"] == 4 and summary["stopped_by"] == "max_steps"


def test_run_folder_is_complete_and_final(finetuned_run):
    out, summary = finetuned_run
    for name in ("adapter/adapter_config.json", "merged/config.json", "model.gguf"):
        assert (out / name).is_file(), name
    for name in ("metrics.csv", "report.md", "loss.png", "scores.png"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    assert not out.with_name(out.name + ".partial").exists()
    saved = json.loads((out / "summary.json").read_text())
    assert saved["perplexity_after"] == summary["perplexity_after"]
    assert saved["peak_rss_mb"] > 0 and saved["train_tokens"] > 0
    assert [r["config"] for r in saved["comparison"]] == ["base prompted", "fine-tuned"]
    report = (out / "report.md").read_text()
    assert "Validation perplexity went from" in report and "Sample answers" in report


def test_adapter_loads_back_and_changes_the_answer(finetuned_run):
    from chatforge.llm import GenOptions, open_llm

    out, summary = finetuned_run
    base = summary["base_folder"]
    question = [{"role": "user", "content": "What colour is the widget?"}]
    plain = open_llm(base, backend="transformers", device="cpu")
    tuned = open_llm(base, backend="transformers", adapter=str(out / "adapter"), device="cpu")
    a = plain.generate(question, GenOptions(max_tokens=12)).text
    b = tuned.generate(question, GenOptions(max_tokens=12)).text
    assert a != b


def test_merged_gguf_generates_in_llama_cpp(finetuned_run):
    from chatforge.llm import GenOptions, open_llm
    from chatforge.llm.llamacpp import LlamaCppLLM

    out, _ = finetuned_run
    llm = open_llm(str(out / "model.gguf"))
    assert isinstance(llm, LlamaCppLLM)
    gen = llm.generate(
        [{"role": "user", "content": "Who makes the widget?"}], GenOptions(max_tokens=16)
    )
    assert gen.text.strip() and gen.completion_tokens > 0


def test_models_lists_it_and_config_set_switches_a_bot(finetuned_run, tmp_path):
    out, summary = finetuned_run
    listed = json.loads(cli("models", "--json").stdout)
    row = next(r for r in listed if r["name"] == summary["name"])
    assert row["path"] == str((out / "model.gguf").resolve()) and row["loads"]
    cli("init", str(tmp_path / "bot"))
    cli("config", "set", "llm.model", summary["name"], "--bot", str(tmp_path / "bot"))
    shown = json.loads(cli("config", "show", "--json", "--bot", str(tmp_path / "bot")).stdout)
    assert shown["llm"]["model"] == str((out / "model.gguf").resolve())
    bad = cli("config", "set", "llm.tempo", "1", "--bot", str(tmp_path / "bot"), check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "llm.tempo" in bad.stderr
    bad = cli("config", "set", "llm.n_ctx", "12", "--bot", str(tmp_path / "bot"), check=False)
    assert bad.returncode == 2 and "n_ctx" in bad.stderr and "Traceback" not in bad.stderr


def test_a_run_name_in_the_environment_opens_what_config_set_writes(
    finetuned_run, tmp_path, monkeypatch
):
    """CHATFORGE_LLM__MODEL=<run name> opens the same GGUF, under the same name, as
    `chatforge config set llm.model <run name>`, and `chatforge models` finds it loadable."""
    from chatforge.bot import Bot
    from chatforge.llm import list_models

    out, summary = finetuned_run
    served = (out / "model.gguf").resolve()
    by_set = tmp_path / "by-set"
    cli("init", str(by_set))
    cli("config", "set", "llm.model", summary["name"], "--bot", str(by_set))
    written = Bot(by_set).llm
    by_env = Bot.init(tmp_path / "by-env").folder
    monkeypatch.setenv("CHATFORGE_LLM__MODEL", summary["name"])
    from_env = Bot(by_env).llm
    assert from_env.path == written.path == served
    assert from_env.name == written.name == summary["name"]
    row = next(r for r in list_models(summary["name"]) if r["configured"])
    assert row["loads"] and row["path"] == str(served) and row["name"] == summary["name"]
