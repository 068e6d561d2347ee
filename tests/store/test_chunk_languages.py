"""Each chunk's language is stored with it and its BM25 terms are made in that language."""

from __future__ import annotations

import pytest
from support import bot_over

DOCS = {
    "gadget.md": "# Le gadget\n\n## Installation\n\nPour installer le gadget, branchez-le sur un "
    "port libre puis lancez l'outil de configuration fourni sur le disque.\n\n"
    "## Désinstallation\n\nLa désinstallation efface la configuration : débranchez l'appareil "
    "et supprimez le dossier qu'il avait créé dans vos documents.\n",
    "meteo.md": "# La météo\n\nLe bulletin annonce de la pluie sur la côte et du soleil à "
    "l'intérieur des terres pour la fin de la semaine.\n",
    "manual.md": "# Widget manual\n\nInstalling the widget takes a minute: plug it in and run "
    "the setup tool from the disk that came with it.\n",
}


@pytest.fixture
def bot(make_bot, tmp_path, monkeypatch):
    return bot_over(make_bot, tmp_path, DOCS, monkeypatch)


def test_each_chunk_is_stored_with_its_language(bot):
    rows = bot.store.db.execute(
        "SELECT d.path, c.lang FROM chunks c JOIN documents d ON d.id = c.doc_id"
    ).fetchall()
    assert {lang for path, lang in rows if path != "manual.md"} == {"fr"}
    assert {lang for path, lang in rows if path == "manual.md"} == {"en"}
    assert bot.store.languages()[0] == "fr"  # most chunks first


def test_a_french_question_finds_the_french_passage_by_bm25_where_dense_does_not(bot):
    """The English-only MiniLM reads French as bags of subwords: it ranks the installing
    passage first. BM25 stems "désinstaller" and "désinstallation" alike and finds it."""
    question = "Comment désinstaller le gadget ?"
    r = bot.settings.retrieve
    r.lexical = False
    assert "Désinstallation" not in bot.search(question, k=1)[0].section
    r.lexical, r.dense = True, False
    assert "Désinstallation" in bot.search(question, k=1)[0].section
    assert "Désinstallation" in bot.search("desinstallation", k=1)[0].section  # no accents
