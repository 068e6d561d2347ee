"""`chatforge eval retrieval|answers|generate-questions` and `tune-retriever` on a real bot.

One small bot (English and French documents, MiniLM, SQLite, FAISS) is built per module; each
command runs as the real `chatforge` process. Answers use the smallest built-in model: these
tests are about the measuring, not the answers' quality.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from botsupport import DOCS, QUESTIONS, chunk_ids, write_jsonl
from support import cli, write_docs

from chatforge.bot import Bot
from chatforge.evaluate.tune_retriever import no_worse


@pytest.fixture(scope="module")
def bot_dir(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("evalbot")
    corpus = write_docs(root / "corpus", DOCS)
    folder = Bot.init(root / "bot").folder
    config = folder / "chatforge.yaml"
    config.write_text(
        re.sub(r"(?m)^  model: qwen$", "  model: smollm2", config.read_text("utf-8")), "utf-8"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(corpus)  # sources stay relative: widget/network.md
        with Bot(folder, embedder=embedder) as bot:
            bot.ingest(["."])
    return folder


def test_retrieval_json_report_and_compare_with_a_config_file(bot_dir, tmp_path):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    other = tmp_path / "lexical.yaml"
    other.write_text("retrieve:\n  dense: false\n", encoding="utf-8")
    report = tmp_path / "r.html"
    args = ["eval", "retrieval", str(questions), "--bot", str(bot_dir), "--json"]
    got = json.loads(cli(*args, "--compare", str(other), "--report", str(report)).stdout)
    first, second = got["configs"]
    assert (first["name"], second["name"]) == ("as configured", "lexical.yaml")
    ranks = {r["question"]: r["rank"] for r in first["questions"]}
    assert ranks["which port does the daemon use"] == 1
    assert ranks["combien de temps dort une girafe"] == 1
    wrong = ranks["where are the daemon logs kept"]  # labelled with the wrong source
    assert wrong is None or wrong > 5
    m = first["metrics"]
    assert m["n"] == 5 and m["hit@1"] <= m["hit@5"] <= 0.8  # the mislabelled one misses
    assert 0 < m["mrr@10"] <= m["hit@10"] and 0 < m["ndcg@10"] <= 1
    assert got["test"]["metric"] == "mrr@10" and 0 <= got["test"]["p_value"] <= 1
    page = report.read_text(encoding="utf-8")
    assert "<img" in page and "Wilcoxon" in page
    as_configured = page.split("<h2>")[1]
    assert as_configured.index("where are the daemon logs kept") < as_configured.index(
        "which port does the daemon use"
    )  # failures first


def test_retrieval_reads_the_bots_own_csv_test_set_and_a_key_change(bot_dir, tmp_path):
    """The default file is BOT/tests/questions.jsonl; here a CSV given by path, in French."""
    csv = tmp_path / "questions.csv"
    csv.write_text(
        "question,source,answer\n"
        "combien d'eau boit un éléphant,animaux/elephants.md,deux cents litres\n"
        "\n"
        "quand les zèbres partent-ils,animaux/zebres.md,\n",
        encoding="utf-8",
    )
    args = ["eval", "retrieval", str(csv), "--bot", str(bot_dir)]
    out = cli(*args, "--compare", "retrieve.lexical=false").stdout
    assert "as configured" in out and "retrieve.lexical=false" in out and "p = " in out
    assert "n    2" in out  # the blank row is skipped
    assert (bot_dir / "reports" / "retrieval.html").is_file()


@pytest.mark.slow
def test_answers_in_english_and_french(bot_dir, tmp_path):
    questions = write_jsonl(
        tmp_path / "q.jsonl",
        [*QUESTIONS[:3], {"question": "who won the 1998 football world cup"}],
    )
    args = ["eval", "answers", str(questions), "--bot", str(bot_dir), "--json"]
    got = json.loads(cli(*args).stdout)
    (config,) = got["configs"]
    rows = {r["question"]: r for r in config["questions"]}
    assert rows["who won the 1998 football world cup"]["declined"] == 1.0  # nothing answers it
    assert rows["which port does the daemon use"]["declined"] == 0.0
    for q in QUESTIONS[:3]:
        r = rows[q["question"]]
        assert r["answer"] and 0 <= r["token_f1"] <= 1 and 0 <= r["rouge_l"] <= 1
        assert r["latency_ms"] > 0
    assert config["metrics"]["declined"] == 0.25
    assert Path(got["report"]).is_file()
    with Bot(bot_dir) as bot:  # asked with save=False, as `eval compare` does
        assert bot.store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


@pytest.mark.slow
def test_generate_questions_keeps_the_users_own(bot_dir, tmp_path):
    own = {"question": "what licence is widget under", "source": "widget/license.md"}
    test_set = write_jsonl(tmp_path / "tests" / "questions.jsonl", [own])
    args = ["eval", "generate-questions", "--bot", str(bot_dir), "--model", "smollm2"]
    cli(*args, "--limit", "3", "--check", "none", "--out", str(test_set))
    rows = [json.loads(line) for line in test_set.read_text("utf-8").splitlines()]
    assert rows[0] == own  # the user's question, untouched
    generated = rows[1:]
    assert generated and all(r["generated"] is True for r in generated)
    assert all(r["source"] in DOCS and r["question"].strip() for r in generated)
    got = json.loads(
        cli("eval", "retrieval", str(test_set), "--bot", str(bot_dir), "--json").stdout
    )
    assert sum(r["generated"] for r in got["configs"][0]["questions"]) == len(generated)


@pytest.mark.slow
def test_tune_retriever_saves_a_model_the_bot_then_uses(bot_dir, tmp_path):
    """The generated questions are written here rather than by the model, so the test stays
    fast and knows its training pairs; generate-questions has its own test."""
    bot = tmp_path / "bot"
    shutil.copytree(bot_dir, bot)
    ids = chunk_ids(bot)
    asked = {
        "widget/install.md": "how do I put widget on my machine",
        "widget/remove.md": "uninstall and wipe settings",
        "widget/network.md": "what number does the service answer on",
        "widget/logs.md": "where do I read what went wrong",
        "widget/backup.md": "save my dashboards somewhere safe",
        "widget/users.md": "make a login for a colleague",
        "widget/update.md": "get the newest release",
        "widget/license.md": "can I resell it",
        "animaux/zebres.md": "où vont les zèbres pendant l'année",
        "animaux/girafes.md": "les girafes dorment-elles couchées",
        "animaux/elephants.md": "les éléphants ont-ils bonne mémoire",
        "cuisine/pain.md": "combien de temps laisser monter la pâte",
    }
    rows = [
        {"question": q, "source": s, "generated": True, "chunk": ids[s]} for s, q in asked.items()
    ]
    rows.append({"question": "which port does the daemon use", "source": "widget/network.md"})
    write_jsonl(bot / "tests" / "questions.jsonl", rows)
    got = json.loads(cli("tune-retriever", "--bot", str(bot), "--batch-size", "4", "--json").stdout)
    model = Path(got["model"])
    assert model == (bot / "models" / "retriever").resolve()
    assert (model / "modules.json").is_file() and got["pairs"] >= 8
    assert f"model: {model}" in (bot / "chatforge.yaml").read_text("utf-8")
    assert set(got["before"]) == set(got["after"]) and "your questions" in got["after"]
    hits = json.loads(
        cli("search", "which port does the daemon use", "--bot", str(bot), "--json").stdout
    )
    assert hits[0]["source"] == "widget/network.md"  # re-embedded: the store matches the model


def test_tune_retriever_keeps_the_bots_model_when_the_tuned_one_does_worse(bot_dir, tmp_path):
    """A learning rate far too high stands in for pairs that teach the wrong thing (generated
    questions that reuse their chunk's words): the tuned model must rank the user's own
    questions worse, and the bot must keep answering with its own model."""
    from chatforge.evaluate.tune_retriever import tune_retriever

    bot = tmp_path / "bot"
    shutil.copytree(bot_dir, bot)
    ids = chunk_ids(bot)
    rows = [
        {"question": f"tell me about {s.split('/')[1][:-3]}", "source": s, "generated": True,
         "chunk": i}
        for s, i in ids.items()
    ]  # fmt: skip
    rows += [
        {"question": "what number does the service answer on", "source": "widget/network.md"},
        {"question": "get rid of it along with its settings", "source": "widget/remove.md"},
        {"question": "où vont les zèbres pendant l'année", "source": "animaux/zebres.md"},
    ]
    write_jsonl(bot / "tests" / "questions.jsonl", rows)
    config = (bot / "chatforge.yaml").read_text("utf-8")
    with Bot(bot) as b:
        before = [h.source for h in b.search("what number does the service answer on", 3)]
        result = tune_retriever(b, batch_size=4, epochs=2, learning_rate=0.05)
    assert not no_worse(result["before"], result["after"]) and result["switched"] is False
    assert (bot / "chatforge.yaml").read_text("utf-8") == config
    assert (Path(result["model"]) / "modules.json").is_file()  # left for a look
    with Bot(bot) as b:  # the store was re-embedded with the bot's own model again
        assert [h.source for h in b.search("what number does the service answer on", 3)] == before


def test_the_tuned_model_is_kept_when_it_does_no_worse_on_held_out_questions():
    yours = {"your questions": {"mrr@10": 0.80}, "held-out generated": {"mrr@10": 0.5}}
    assert no_worse(yours, {"your questions": {"mrr@10": 0.80}, "held-out generated": {
        "mrr@10": 0.1}})  # fmt: skip
    assert not no_worse(yours, {"your questions": {"mrr@10": 0.79}, "held-out generated": {
        "mrr@10": 0.9}})  # fmt: skip
    generated = {"held-out generated": {"mrr@10": 0.5}}
    assert not no_worse(generated, {"held-out generated": {"mrr@10": 0.4}})
    assert no_worse({}, {})


def _error(proc) -> str:
    """The one error line (after any warnings about single questions)."""
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and not any(x.startswith("error") for x in lines[:-1])
    return lines[-1]


def test_bad_question_files_name_the_line(bot_dir, tmp_path):
    wrong_column = write_jsonl(
        tmp_path / "col.jsonl", [QUESTIONS[0], {"question": "port?", "src": "widget/network.md"}]
    )
    report = tmp_path / "never.html"
    args = ["eval", "retrieval", "--bot", str(bot_dir), "--report", str(report)]
    line = _error(cli(*args, str(wrong_column), check=False))
    assert "col.jsonl line 2" in line and "'src'" in line
    not_json = tmp_path / "bad.jsonl"
    not_json.write_text(json.dumps(QUESTIONS[0]) + "\n\n{question: port}\n", encoding="utf-8")
    assert "bad.jsonl line 3: not JSON" in _error(cli(*args, str(not_json), check=False))
    assert not report.exists()
    gone = write_jsonl(tmp_path / "gone.jsonl", [{"question": "q", "source": "deleted.md"}])
    assert "no question's source is in the bot" in _error(cli(*args, str(gone), check=False))
    good = write_jsonl(tmp_path / "good.jsonl", QUESTIONS[:1])
    line = _error(cli(*args, str(good), "--compare", "retrieve.depth=3", check=False))
    assert "retrieve.depth" in line


def test_unknown_sources_are_left_out_with_a_warning(bot_dir, tmp_path):
    questions = write_jsonl(
        tmp_path / "q.jsonl", [QUESTIONS[0], {"question": "q", "source": "widget/old.md"}]
    )
    proc = cli("eval", "retrieval", str(questions), "--bot", str(bot_dir), "--json")
    assert "q.jsonl line 2" in proc.stderr and "widget/old.md" in proc.stderr
    assert json.loads(proc.stdout)["configs"][0]["metrics"]["n"] == 1


def test_tune_retriever_refuses_too_few_questions_and_changes_nothing(bot_dir, tmp_path):
    bot = tmp_path / "bot"
    shutil.copytree(bot_dir, bot)
    ids = chunk_ids(bot)
    rows = [
        {"question": "port of the daemon", "source": s, "generated": True, "chunk": ids[s]}
        for s in ("widget/network.md", "widget/logs.md")
    ]
    write_jsonl(bot / "tests" / "questions.jsonl", rows)
    config = (bot / "chatforge.yaml").read_text("utf-8")
    line = _error(cli("tune-retriever", "--bot", str(bot), check=False))
    assert "generate-questions" in line and "needed" in line
    assert (bot / "chatforge.yaml").read_text("utf-8") == config
    assert not (bot / "models").exists()
