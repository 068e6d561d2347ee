"""Memory a user feels: facts stated in passing answer later personal questions, in English and
French, in every answer mode; a newer fact supersedes the older one, which stays as history.

Bots are made with `Bot.init` defaults (`chat.mode: auto`, the built-in SmolLM2, so answers are
quoted); the shared sample-document bot of conftest is opened without changing its settings.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from chatforge.bot import Bot


@pytest.fixture
def default_bot(bot_dir, embedder, llm):
    """The sample-document bot with its `Bot.init` defaults, and the session's models."""
    b = Bot(bot_dir, embedder=embedder, llm=llm)
    yield b
    b.close()


@pytest.fixture
def empty_bot(tmp_path, embedder, llm):
    """A bot with no documents: every other question gets a fixed reply."""
    b = Bot(Bot.init(tmp_path / "empty").folder, embedder=embedder, llm=llm)
    yield b
    b.close()


def test_facts_stated_in_passing_answer_personal_questions_later(default_bot):
    bot = default_bot
    said = bot.ask("Hello! My name is Ada and I live in Lyon.", user="ada-en")
    assert said.text == "Noted: My name is Ada; I live in Lyon."
    name = bot.ask("What's my name?", user="ada-en")
    assert name.conversation_id != said.conversation_id
    assert (name.mode, name.text) == ("memory", 'You told me: "My name is Ada".')
    assert name.memories == ["My name is Ada"] and name.sources == []
    home = bot.ask("Do you know where I live?", user="ada-en")
    assert home.mode == "memory" and "Lyon" in home.text
    unknown = bot.ask("What do I do for a living?", user="ada-en")
    assert unknown.text == "I don't know that yet: tell me and I'll remember."
    assert unknown.memories == []


def test_a_newer_fact_supersedes_the_older_one_which_is_kept(default_bot):
    bot = default_bot
    bot.ask("I live in Lyon.", user="lea-en")
    bot.ask("I use Emacs for everything.", user="lea-en")
    moved = bot.ask("I live in Paris now.", user="lea-en")
    assert moved.text == "Noted: I live in Paris now."
    answer = bot.ask("Where am I living these days?", user="lea-en")
    assert "Paris" in answer.text and "Lyon" not in answer.text
    current = bot.memory.list("lea-en")
    assert [(m.text, m.slot) for m in current] == [
        ("I live in Paris now", "home"),
        ("I use Emacs for everything", "editor"),
    ]
    history = bot.memory.list("lea-en", include_history=True)
    lyon = next(m for m in history if m.text == "I live in Lyon")
    assert lyon.superseded_by == current[0].id
    assert all("Lyon" not in m.text for m in bot.memory.search("lea-en", "city", k=5))


def test_french_facts_supersede_and_answer_in_french(default_bot):
    bot = default_bot
    noted = bot.ask("Je m'appelle Chloé. J'habite à Lyon.", user="chloe-fr")
    assert noted.text == "C'est noté : Je m'appelle Chloé; J'habite à Lyon."
    bot.ask("Maintenant j'habite à Paris.", user="chloe-fr")
    name = bot.ask("Comment je m'appelle ?", user="chloe-fr")
    assert (name.mode, name.text) == ("memory", "Vous m'avez dit : « Je m'appelle Chloé ».")
    home = bot.ask("Où est-ce que j'habite ?", user="chloe-fr")
    assert home.text == "Vous m'avez dit : « J'habite à Paris »."
    assert home.memories == ["J'habite à Paris"]
    job = bot.ask("Quel est mon métier ?", user="chloe-fr")
    assert job.text == "Je ne le sais pas encore : dites-le-moi et je m'en souviendrai."
    bot.ask("Retiens que je travaille comme infirmière.", user="chloe-fr")
    assert "infirmière" in bot.ask("Qu'est-ce que je fais dans la vie ?", user="chloe-fr").text
    texts = [m.text for m in bot.memory.list("chloe-fr", include_history=True)]
    assert "J'habite à Lyon" in texts and "J'habite à Paris" in texts


@pytest.mark.parametrize("mode", ["extractive", "generate"])
def test_personal_questions_are_answered_from_memory_in_every_mode(default_bot, mode):
    bot = default_bot
    user = f"max-{mode}"
    bot.ask("My name is Max.", user=user)
    bot.settings.chat.mode = mode
    answer = bot.ask("what is my name", user=user)
    assert (answer.mode, answer.text) == ("memory", 'You told me: "My name is Max".')
    assert answer.prompt is None and answer.usage["completion_tokens"] == 0


def test_what_the_user_calls_my_thing_is_answered_and_superseded(default_bot):
    """ "my locker code", "mon numéro de client": any thing the user names is a slot."""
    bot = default_bot
    bot.ask("Remember that my locker code is 4312.", user="kim")
    code = bot.ask("What is my locker code?", user="kim")
    assert (code.mode, code.text) == ("memory", 'You told me: "my locker code is 4312".')
    bot.ask("Remember that my locker code is now 5555.", user="kim")
    assert "5555" in bot.ask("what's my current locker code?", user="kim").text
    texts = [
        (m.text, m.superseded_by is None) for m in bot.memory.list("kim", include_history=True)
    ]
    assert texts == [("my locker code is now 5555", True), ("my locker code is 4312", False)]
    bot.ask("Remember that my favourite store is Marseille.", user="kim")
    store = bot.ask("Which store is my favourite?", user="kim")
    assert store.mode == "memory" and "Marseille" in store.text
    bot.ask("Souviens-toi que mon numéro de client est 88217.", user="kim")
    client = bot.ask("Quel est mon numéro de client ?", user="kim")
    assert client.text == "Vous m'avez dit : « mon numéro de client est 88217 »."


def test_a_thing_no_memory_names_is_looked_up_in_the_documents(default_bot):
    """A personal-notes bot may hold "my ..." in its documents: only a memory that names the
    thing takes the question off the documents' path."""
    bot = default_bot
    answer = bot.ask("What is my widget config path?", user="noa")
    assert answer.mode != "memory" and any("widget.conf" in s.shown for s in answer.sources)
    assert not bot.chat.about_user("Quel est mon chemin de configuration ?", "noa")
    bot.ask("Retiens que mon chemin de configuration est /srv/w.conf.", user="noa")
    assert bot.chat.about_user("Quel est mon chemin de configuration ?", "noa")


def test_a_bot_without_documents_answers_personal_questions_too(empty_bot):
    empty_bot.ask("I work at the harbour.", user="quinn")
    answer = empty_bot.ask("Where do I work?", user="quinn")
    assert answer.mode == "memory" and "harbour" in answer.text
    other = empty_bot.ask("What is the boiling point of mercury?", user="quinn")
    assert (other.mode, other.text) == ("fixed", empty_bot.settings.chat.unknown_answer)


def test_other_questions_take_the_normal_path(default_bot):
    """A question about the documents is answered from them even when a memory is close to
    it. The wording is sampled (temperature 0.2), so what is checked is the path and the passage
    the answer cites; how often the words are right is bench/answers.py's to measure."""
    bot = default_bot
    bot.ask("I use Debian on my laptop.", user="otto")
    answer = bot.ask("How do I install the widget on Debian?", user="otto")
    assert answer.mode == "generate" and not answer.replaced and answer.sources
    assert answer.cited and "widget" in answer.text
    assert any("apt install widget" in s.shown for s in answer.sources if s.cited)


def test_one_users_facts_never_answer_another(default_bot):
    bot = default_bot
    bot.ask("My name is Alice and I live in Oslo.", user="alice-m")
    for question in ("What's my name?", "Where do I live?", "Comment je m'appelle ?"):
        answer = bot.ask(question, user="bob-m")
        assert answer.memories == [] and "Alice" not in answer.text and "Oslo" not in answer.text
    assert "Alice" in bot.ask("What's my name?", user="alice-m").text
    assert bot.memory.list("bob-m") == []


def test_memory_list_history_shows_what_was_superseded(empty_bot, run_cli):
    empty_bot.ask("I live in Lyon.", user="cli-user")
    empty_bot.ask("I live in Paris now.", user="cli-user")
    folder = str(empty_bot.folder)
    empty_bot.close()
    current = run_cli("memory", "list", "--bot", folder, "--user", "cli-user")
    assert current.returncode == 0, current.stderr
    assert "Paris" in current.stdout and "Lyon" not in current.stdout
    shown = run_cli("memory", "list", "--history", "--bot", folder, "--user", "cli-user")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    lyon = next(line for line in lines if "Lyon" in line)
    paris = next(line for line in lines if "Paris" in line)
    assert "superseded by" in lyon and "current" in paris
    assert "1 memories, 1 superseded" in shown.stdout
    listed = run_cli("memory", "list", "--history", "--json", "--bot", folder, "--user", "cli-user")
    rows = json.loads(listed.stdout)
    assert [(r["text"], r.get("superseded_by")) for r in rows] == [
        ("I live in Paris now", None),
        ("I live in Lyon", rows[0]["id"]),
    ]


def test_an_existing_memory_table_gains_slots_and_keeps_its_rows(tmp_path, embedder, monkeypatch):
    """The migration registry is cut back to the released m001/m002 to make a memory table as
    earlier code made it; the rows are then written with the SQL that code used."""
    from chatforge.chat.memory import MemoryStore
    from chatforge.store import migrations
    from chatforge.store.sqlite import SQLiteStore

    released = [m for m in migrations.REGISTRY["memory"] if m.__name__ < "m003"]
    monkeypatch.setitem(migrations.REGISTRY, "memory", released)
    store = SQLiteStore(tmp_path, embedder.name, lambda: embedder.dim)
    MemoryStore(store, lambda: embedder)
    rows = [("My name is Ada", "fact"), ("I live in Lyon", "fact"), ("I have two cats", "note")]
    rows += [("I live in Nice", "fact"), ("summary: Ada lives in Lyon", "summary")]
    with store.transaction() as db:
        for text, kind in rows:
            vec = embedder.encode_query(text).tobytes()
            db.execute(
                "INSERT INTO memories(user_id, kind, text, vec, model, created_at, updated_at) "
                "VALUES('ada', ?, ?, ?, ?, '2025-01-01', '2025-01-01')",
                (kind, text, vec, embedder.name),
            )
    store.close()
    monkeypatch.undo()
    store = SQLiteStore(tmp_path, embedder.name, lambda: embedder.dim)
    memory = MemoryStore(store, lambda: embedder)
    try:
        assert [(m.text, m.slot) for m in memory.list("ada")] == [
            ("My name is Ada", "name"),
            ("I live in Lyon", "home"),
            ("I have two cats", None),
            ("I live in Nice", "home"),
            ("summary: Ada lives in Lyon", None),
        ]
        assert memory.current("ada", ["home"]).text == "I live in Nice"
        paris = memory.add("ada", "I live in Paris now", "fact")
        assert [m.text for m in memory.list("ada", kind="fact")] == [
            "My name is Ada",
            "I live in Paris now",
        ]
        earlier = [m for m in memory.list("ada", include_history=True) if m.superseded_by]
        assert sorted(m.text for m in earlier) == ["I live in Lyon", "I live in Nice"]
        assert {m.superseded_by for m in earlier} == {paris.id}
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "chatforge.db") as db:
        assert db.execute("SELECT count(*) FROM memories").fetchone()[0] == len(rows) + 1
