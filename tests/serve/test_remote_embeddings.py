"""embed.url: vectors from an OpenAI-compatible /v1/embeddings server, here chatforge's own.

The server is a real `create_app` on loopback (servesupport.LiveServer) over the session's
MiniLM; the client bot tokenizes with its local copy of the same model and never loads it.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from servesupport import LiveServer
from support import build_bot

from chatforge.bot import Bot, open_embedder
from chatforge.config import Settings
from chatforge.embed_remote import RemoteEmbedder
from chatforge.errors import ModelError

TEXTS = ["The widget daemon listens on port 7341.", "Arrosez les tomates le soir, jamais à midi."]


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory, embedder):
    folder = build_bot(tmp_path_factory.mktemp("server"), {"a.md": "# A\n\nHello.\n"}, embedder)
    bot = Bot(folder, embedder=embedder)
    server = LiveServer(bot)
    yield server
    server.stop()
    bot.close()


def test_remote_vectors_are_the_servers_and_a_bot_ingests_and_searches_with_them(
    embedding_server, embedder, tmp_path
):
    settings = Settings()
    settings.embed.url = embedding_server.url
    remote = open_embedder(settings)
    assert isinstance(remote, RemoteEmbedder) and remote.dim == embedder.dim
    assert np.allclose(remote.encode(TEXTS), embedder.encode(TEXTS), atol=1e-4)
    assert remote.count_tokens(TEXTS) == embedder.count_tokens(TEXTS)
    docs = {
        "en.md": "# Network\n\nThe widget daemon listens on port 7341 by default.\n",
        "fr.md": "# Potager\n\nArrosez les tomates le soir, jamais en plein soleil.\n",
    }
    (tmp_path / "corpus").mkdir()
    for name, text in docs.items():
        (tmp_path / "corpus" / name).write_text(text, encoding="utf-8")
    bot = Bot(Bot.init(tmp_path / "bot").folder, embedder=remote)
    with contextlib.chdir(tmp_path / "corpus"):
        bot.ingest(["."])
    assert bot.search("Quand arroser les tomates ?", k=1)[0].source == "fr.md"
    assert bot.search("Which port does the daemon use?", k=1)[0].source == "en.md"
    bot.close()
    assert "model" not in vars(remote)  # the local model was never loaded


def test_a_server_that_is_gone_or_refuses_is_one_line_naming_the_setting(embedding_server):
    gone = RemoteEmbedder("all-MiniLM-L6-v2", "http://127.0.0.1:9/v1")
    with pytest.raises(ModelError, match="check embed.url") as e:
        gone.encode(TEXTS)
    assert "\n" not in str(e.value)
    wrong = RemoteEmbedder("all-MiniLM-L6-v2", embedding_server.url, remote_model="nope")
    with pytest.raises(ModelError, match="answered 404") as e:
        wrong.encode(TEXTS)
    assert "embed.remote_model" in str(e.value)
