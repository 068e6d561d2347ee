"""`chatforge migrate --to URL`: a SQLite bot moves to a real PostgreSQL without re-embedding.

The command runs as a user runs it (a subprocess); the bot is built with the real MiniLM, and
the searches before and after run in this process on the same embedder.
"""

from __future__ import annotations

import json

import pytest
from pgsupport import new_database
from support import build_bot, cli

from chatforge.bot import Bot
from chatforge.store.postgres import PostgresStore

DOCS = {
    "en/network.md": (
        "# Networking\n\nThe widget daemon listens on port 7341 by default. Change the port in "
        "/etc/widget/widget.conf with the `port=` key and restart the service.\n"
    ),
    "en/animals.txt": "Zebras migrate across the Serengeti every year, following the rains.\n",
    "fr/jardin.md": (
        "# Le potager\n\nArrosez les tomates le soir, jamais en plein soleil. Les courgettes "
        "demandent un sol riche et beaucoup d'eau pendant l'été.\n"
    ),
    "fr/cuisine.md": (
        "# La cuisine\n\nPour réussir une pâte brisée, mélangez la farine et le beurre froid, "
        "puis laissez reposer la pâte une heure au frais.\n"
    ),
}
QUESTIONS = [
    "Which port does the widget daemon use?",
    "Where do zebras go every year?",
    "Quand faut-il arroser les tomates ?",
    "Comment réussir une pâte brisée ?",
]


def _top5(folder, embedder) -> list[list[tuple[str, str]]]:
    with Bot(folder, embedder=embedder) as bot:
        return [[(h.source, h.text) for h in bot.search(q, k=5)] for q in QUESTIONS]


@pytest.mark.slow
def test_a_sqlite_bot_moves_to_postgres_with_the_same_answers_and_resumes(
    tmp_path, embedder, pg_server
):
    folder = build_bot(tmp_path, DOCS, embedder)
    with Bot(folder, embedder=embedder) as bot:
        bot.memory.add("local", "Mon jardin est à Lyon")
        bot.memory.edit("local", bot.memory.add("local", "I like tea").id, "I like green tea")
    before = _top5(folder, embedder)
    url = new_database(pg_server)

    out = json.loads(cli("migrate", "--to", url, "--bot", str(folder), "--json").stdout)
    assert out["ok"] and out["copied"] == len(DOCS) and out["samples"] > 0
    assert out["rows"]["memories"] == 3  # two current, one superseded
    assert all(a == b for a, b in out["counts"].values())
    assert "backend: postgres" in (folder / "chatforge.yaml").read_text()
    after = _top5(folder, embedder)
    assert after == before
    assert after[2][0][0] == "fr/jardin.md" and after[0][0][0] == "en/network.md"
    with Bot(folder, embedder=embedder) as bot:
        assert isinstance(bot.store, PostgresStore)
        assert [m.text for m in bot.memory.list("local")] == [
            "Mon jardin est à Lyon",
            "I like green tea",
        ]
        assert bot.memory.search("local", "où est le potager ?", k=1)[0].text.endswith("Lyon")

    # An interrupted copy: one file missing in PostgreSQL; the next run copies only that one.
    PostgresStore(url, "all-MiniLM-L6-v2", lambda: 384).remove_file("fr/cuisine.md")
    cli("config", "set", "store.backend", "sqlite", "--bot", str(folder))
    again = json.loads(cli("migrate", "--to", url, "--bot", str(folder), "--json").stdout)
    assert again["ok"] and again["copied"] == 1 and again["unchanged"] == len(DOCS) - 1
    assert again["rows"] == {"conversations": 0, "messages": 0, "memories": 0}
    assert _top5(folder, embedder) == before


def test_migrate_refuses_bad_targets_in_one_line_and_leaves_the_bot_as_it_was(tmp_path, embedder):
    folder = build_bot(tmp_path, {"a.md": "# A\n\nLe chat dort sur le canapé.\n"}, embedder)
    config = (folder / "chatforge.yaml").read_text()
    for url, words in [
        ("mysql://db/x", "not a PostgreSQL URL"),
        ("postgresql://bob:hunter2@127.0.0.1:1/x", "cannot connect to PostgreSQL"),
    ]:
        r = cli("migrate", "--to", url, "--bot", str(folder), check=False)
        assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "hunter2" not in r.stderr
    assert (folder / "chatforge.yaml").read_text() == config
