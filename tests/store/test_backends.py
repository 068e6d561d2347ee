"""The store contract, checked on both backends: SQLite (the default) and a real PostgreSQL.

Both bots ingest the same English and French documents through the real pipeline and the
real MiniLM; PostgreSQL is the session's embedded server (tests/pgsupport.py).
"""

from __future__ import annotations

import contextlib

import numpy as np
import psycopg
import pytest
from pgsupport import new_database

from chatforge.bot import Bot
from chatforge.errors import ChatforgeError, ConfigError
from chatforge.store.contract import Store
from chatforge.store.postgres import PostgresStore

DOCS = {
    "en/install.md": (
        "# Installing\n\nRun `apt install widget` to install the widget tool on Debian.\n\n"
        "## Removing\n\nTo uninstall it completely, use `apt purge widget`; this also deletes "
        "its configuration files.\n"
    ),
    "en/network.md": (
        "# Networking\n\nThe widget daemon listens on port 7341 by default. Change the port in "
        "/etc/widget/widget.conf with the `port=` key and restart the service.\n"
    ),
    "fr/jardin.md": (
        "# Le potager\n\nArrosez les tomates le soir, jamais en plein soleil. Les courgettes "
        "demandent un sol riche et beaucoup d'eau pendant l'été.\n"
    ),
    "fr/cuisine.md": (
        "# La cuisine\n\nPour réussir une pâte brisée, mélangez la farine et le beurre froid du "
        "bout des doigts, puis laissez reposer la pâte une heure au frais.\n"
    ),
}
QUESTIONS = [
    "How do I remove the widget and its config files?",
    "Which port does the daemon listen on?",
    "Quand faut-il arroser les tomates ?",
    "Comment faire une pâte brisée ?",
]


@pytest.fixture(scope="module")
def bots(tmp_path_factory, embedder, pg_server):
    """(SQLite bot, PostgreSQL bot) over the same documents, ingested from the same folder."""
    root = tmp_path_factory.mktemp("backends")
    for rel, text in DOCS.items():
        (root / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / rel).write_text(text, encoding="utf-8")
    pair = []
    for backend in ("sqlite", "postgres"):
        bot = Bot.init(root / backend)
        if backend == "postgres":
            bot.settings.store.backend = "postgres"
            bot.settings.store.url = new_database(pg_server, "backends")
        bot = Bot(bot.folder, bot.settings, embedder=embedder)
        with contextlib.chdir(root / "corpus"):
            bot.ingest(["."])
        pair.append(bot)
    yield tuple(pair)
    for bot in pair:
        bot.close()


def _top(bot: Bot, question: str, k: int = 5) -> list[tuple[str, str]]:
    return [(h.source, h.text) for h in bot.search(question, k=k)]


def test_both_backends_keep_the_contract(bots):
    sqlite, postgres = bots
    assert isinstance(postgres.store, PostgresStore)
    for bot in bots:
        assert isinstance(bot.store, Store)
        assert sorted(bot.store.file_versions()) == sorted(DOCS)
        assert [d.path for d in bot.sources()] == sorted(DOCS)
        assert [d.path for d in bot.sources("fr/*")] == ["fr/cuisine.md", "fr/jardin.md"]
        assert bot.store.languages()[:2] in (["en", "fr"], ["fr", "en"])
    assert sqlite.store.chunk_count() == postgres.store.chunk_count() > len(DOCS)


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_backends_answer_english_and_french_with_the_same_top_five(bots, question):
    sqlite, postgres = bots
    expected = {q: DOCS_OF[q] for q in QUESTIONS}[question]
    assert _top(sqlite, question)[0][0] == expected
    assert _top(postgres, question) == _top(sqlite, question)


DOCS_OF = dict(
    zip(QUESTIONS, ["en/install.md", "en/network.md", "fr/jardin.md", "fr/cuisine.md"], strict=True)
)


def test_each_half_ranks_alike_and_a_source_filter_holds(bots, embedder):
    sqlite, postgres = bots
    for question in QUESTIONS:
        q = embedder.encode([question], query=True)[0]
        halves = []
        for bot in bots:
            dense = bot.store.hits(bot.store.dense(q, 3))
            lexical = bot.store.hits(bot.store.lexical(question, 3))
            halves.append(([h.text for h in dense], [h.text for h in lexical]))
        assert halves[0] == halves[1]
    q = embedder.encode(["arroser les tomates"], query=True)[0]
    for bot in bots:
        assert {h.source for h in bot.store.hits(bot.store.dense(q, 5, "en/*"))} <= {
            "en/install.md",
            "en/network.md",
        }
        assert bot.store.lexical("tomates", 5, "en/*") == []
        assert bot.store.lexical("tomates", 5, "fr/*")


def test_a_new_version_of_a_file_replaces_its_chunks_and_moves_the_generation(
    pg_url, embedder, tmp_path
):
    store = PostgresStore(pg_url, "all-MiniLM-L6-v2", lambda: embedder.dim)
    bot = Bot(Bot.init(tmp_path / "bot").folder, embedder=embedder, store=store)
    (tmp_path / "note.md").write_text("# Note\n\nLe chat dort sur le canapé.\n")
    bot.ingest([str(tmp_path / "note.md")])
    first, gen = store.chunk_count(), store.generation()
    assert first >= 1 and store.missing_vectors(["nope"]) == {"nope"}
    (tmp_path / "note.md").write_text("# Note\n\nThe dog sleeps in the garden shed.\n")
    bot.ingest([str(tmp_path / "note.md")])
    assert store.generation() > gen and store.chunk_count() == first
    assert "dog" in bot.search("where does the dog sleep?", k=1)[0].text
    assert store.lexical("chat canapé", 5) == []
    with psycopg.connect(pg_url) as db:  # the ingest dropped the French chunk's vector
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == first
    assert store.collect_garbage() == 0
    assert store.remove_file(str(tmp_path / "note.md")) and store.chunk_count() == 0
    store.close()


def test_vectors_can_be_reset_and_added_again(pg_url, embedder, tmp_path):
    store = PostgresStore(pg_url, "all-MiniLM-L6-v2", lambda: embedder.dim)
    bot = Bot(Bot.init(tmp_path / "bot").folder, embedder=embedder, store=store)
    (tmp_path / "a.md").write_text("# A\n\nZebras migrate across the Serengeti every year.\n")
    bot.ingest([str(tmp_path / "a.md")])
    q = embedder.encode(["zebra migration"], query=True)[0]
    before = store.dense(q, 1)
    store.reset_vectors("all-MiniLM-L6-v2", embedder.dim)
    assert store.dense(q, 1) == []
    todo = store.chunks_to_embed()
    assert len(todo) == store.chunk_count()
    store.add_vectors(
        {h: v for (h, _), v in zip(todo, embedder.encode([t for _, t in todo]), strict=True)}
    )
    after = store.dense(q, 1)
    assert after[0][0] == before[0][0] and after[0][1] == pytest.approx(before[0][1], abs=1e-3)
    assert np.allclose(
        store.vectors_for([after[0][0]])[0], embedder.encode([todo[0][1]])[0], atol=1e-3
    )
    store.close()


def test_bad_urls_and_newer_schemas_fail_in_one_line_naming_the_fix(pg_server, pg_url):
    cases = {
        "postgresql://nobody@127.0.0.1:1/none": "check store.url",
        pg_server.get_uri("no_such_database"): "does not exist",
    }
    for url, words in cases.items():
        with pytest.raises(ConfigError) as e:
            PostgresStore(url, "m", lambda: 4)
        assert words in str(e.value) and "\n" not in str(e.value)
    PostgresStore(pg_url, "m", lambda: 4).close()
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("INSERT INTO _migrations(name) VALUES('m999_from_the_future')")
        tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        count = tables.fetchone()[0]
    with pytest.raises(ConfigError, match="newer chatforge .* upgrade chatforge"):
        PostgresStore(pg_url, "m", lambda: 4)
    with psycopg.connect(pg_url, autocommit=True) as db:
        again = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        assert again.fetchone()[0] == count  # refused before writing anything


def test_a_password_in_the_url_never_shows_in_the_error():
    with pytest.raises(ConfigError) as e:
        PostgresStore("postgresql://alice:s3cret@127.0.0.1:1/db", "m", lambda: 4)
    assert "s3cret" not in str(e.value) and "alice:***@" in str(e.value)


def test_a_lost_connection_is_one_line_then_the_store_connects_again(pg_url, embedder, tmp_path):
    """The server ending this store's session is what a restart or a network cut does to it."""
    store = PostgresStore(pg_url, "all-MiniLM-L6-v2", lambda: embedder.dim)
    bot = Bot(Bot.init(tmp_path / "bot").folder, embedder=embedder, store=store)
    (tmp_path / "a.md").write_text("# A\n\nLes zèbres migrent chaque année.\n")
    bot.ingest([str(tmp_path / "a.md")])
    pid = store.conn.info.backend_pid
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ChatforgeError) as e:
        store.chunk_count()
    assert "lost the connection to PostgreSQL" in str(e.value) and "\n" not in str(e.value)
    assert store.chunk_count() == 1  # connected again, its search settings too
    assert store.conn.execute("SHOW hnsw.ef_search").fetchone()[0] == "100"
    assert bot.search("Où migrent les zèbres ?", k=1)[0].text.endswith("chaque année.")
    store.close()


def test_the_graph_settings_build_the_index_and_a_wrong_pair_is_one_line(
    pg_server, embedder, tmp_path
):
    """store.hnsw_m and hnsw_ef_construction reach the index a reindex builds; a pair pgvector
    would refuse is a one-line configuration error naming both settings."""
    bot = Bot.init(tmp_path / "bot")
    s = bot.settings.store
    s.backend, s.url = "postgres", new_database(pg_server, "graph")
    s.hnsw_m, s.hnsw_ef_construction = 8, 40
    bot = Bot(bot.folder, bot.settings, embedder=embedder)
    for rel in ("en/network.md", "fr/jardin.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(DOCS[rel], encoding="utf-8")
    with contextlib.chdir(tmp_path):
        bot.ingest(["en", "fr"])
    bot.reindex()
    options = bot.store.conn.execute(
        "SELECT reloptions FROM pg_class WHERE relname = 'chunks_hnsw'"
    ).fetchone()[0]
    assert sorted(options) == ["ef_construction=40", "m=8"]
    assert bot.search("Quand faut-il arroser les tomates ?", k=1)[0].source == "fr/jardin.md"
    assert bot.search("Which port does the daemon use?", k=1)[0].source == "en/network.md"
    bot.close()
    (bot.folder / "chatforge.yaml").write_text(
        "store:\n  backend: postgres\n  url: postgresql://x@127.0.0.1:1/db\n  hnsw_m: 60\n"
    )
    with pytest.raises(ConfigError) as e:
        Bot(bot.folder)
    message = str(e.value)
    assert "\n" not in message and "hnsw_ef_construction (100)" in message and "120" in message
