"""`chatforge eval compare`: the four configurations on held-out questions, for real."""

from __future__ import annotations

import json

from support import DOCS, cli, write_docs

from chatforge.bot import Bot


def test_compare_four_configurations(finetuned_run, widget_dataset, tmp_path):
    out, _ = finetuned_run
    bot = tmp_path / "bot"
    cli("init", str(bot))
    write_docs(tmp_path / "docs", DOCS)
    cli("ingest", str(tmp_path / "docs"), "--bot", str(bot))
    report_dir = tmp_path / "cmp"
    args = ["eval", "compare", "--bot", str(bot), "--dataset", str(widget_dataset)]
    args += ["--finetuned", str(out), "--limit", "1", "--max-tokens", "16"]
    result = json.loads(cli(*args, "--out", str(report_dir), "--json").stdout)
    names = [r["config"] for r in result["configs"]]
    assert names == ["base prompted", "base + RAG", "fine-tuned", "fine-tuned + RAG"]
    for r in result["configs"]:
        assert 0 <= r["token_f1"] <= 1 and 0 <= r["rouge_l"] <= 1 and r["perplexity"] > 1
    assert result["configs"][0]["perplexity"] != result["configs"][2]["perplexity"]
    with Bot(bot) as opened:  # the RAG configurations asked the bot with save=False
        assert opened.store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    report = (report_dir / "report.md").read_text()
    assert "fine-tuned + RAG" in report and (report_dir / "scores.png").is_file()
