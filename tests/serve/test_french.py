"""A French bot end to end, made as a French user makes it (`chatforge init --language fr`, then
`ingest`): French questions through the real CLI and the OpenAI-compatible API, French answers
citing the French passage, and a French question the documents do not answer declined in
French."""

from __future__ import annotations

import json

import pytest
from servesupport import LiveServer
from support import cli

from chatforge.chat.facts import language_of

DOCS_FR = {
    "guide/reseau.md": (
        "# Réseau\n\nLe démon widget écoute sur le port 7341 par défaut. Pour changer de port, "
        "modifiez la clé `port=` dans /etc/widget/widget.conf puis redémarrez le service.\n"
    ),
    "guide/installation.md": (
        "# Installation\n\nLancez `apt install widget` pour installer l'outil widget sur "
        "Debian.\n\n## Désinstallation\n\nPour le désinstaller complètement, utilisez "
        "`apt purge widget` ; cela supprime aussi ses fichiers de configuration.\n"
    ),
    "notes/animaux.txt": (
        "Les zèbres migrent chaque année à travers le Serengeti, en suivant les pluies et "
        "l'herbe fraîche.\n"
    ),
}
UNKNOWN_FR = "Je ne sais pas : rien dans mes documents n'y répond."
ENV = {"CHATFORGE_LLM__MAX_TOKENS": "60", "CHATFORGE_LLM__TEMPERATURE": "0"}


@pytest.fixture(scope="module")
def bot_fr(tmp_path_factory):
    root = tmp_path_factory.mktemp("fr")
    for rel, text in DOCS_FR.items():
        (root / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / rel).write_text(text, encoding="utf-8")
    cli("init", str(root / "bot"), "--language", "fr")
    cli("ingest", ".", "--bot", str(root / "bot"), cwd=root / "corpus")
    return root / "bot"


def ask(bot_dir, question: str) -> dict:
    proc = cli("ask", question, "--bot", str(bot_dir), "--json", env=ENV)
    return json.loads(proc.stdout)


def test_a_french_question_gets_a_french_answer_citing_the_french_passage(bot_fr):
    answer = ask(bot_fr, "Sur quel port le démon widget écoute-t-il ?")
    assert "7341" in answer["text"]
    assert language_of(answer["text"]) == "fr", answer["text"]
    cited = [s["source"] for s in answer["sources"] if s["cited"]]
    assert cited == ["guide/reseau.md"], answer


def test_uninstalling_finds_the_uninstall_passage_not_the_install_one(bot_fr):
    answer = ask(bot_fr, "Comment désinstaller complètement le widget ?")
    assert "purge" in answer["text"], answer["text"]
    assert answer["sources"][0]["source"] == "guide/installation.md"
    assert "Désinstallation" in (answer["sources"][0].get("section") or "")


def test_a_french_question_the_documents_do_not_answer_is_declined_in_french(bot_fr):
    answer = ask(bot_fr, "Quelle est la capitale de l'Australie ?")
    assert answer["text"] == UNKNOWN_FR


def test_the_api_answers_a_french_question_in_french(bot_fr, serve_llm):
    from chatforge.bot import Bot

    bot = Bot(bot_fr, llm=serve_llm)
    bot.settings.llm.max_tokens = 60
    bot.settings.llm.temperature = 0.0
    live = LiveServer(bot)
    try:
        with live.client() as http:
            r, unknown = (
                http.post(
                    "/v1/chat/completions",
                    json={"model": "default", "messages": [{"role": "user", "content": q}]},
                )
                for q in (
                    "Quel fichier faut-il modifier pour changer le port ?",
                    "Quel temps fait-il à Paris ?",
                )
            )
    finally:
        live.stop()
        bot.close()
    assert r.status_code == 200, r.text
    body = r.json()
    text = body["choices"][0]["message"]["content"]
    assert "/etc/widget/widget.conf" in text and language_of(text) == "fr", text
    sources = body["chatforge"]["sources"]
    assert [s["source"] for s in sources if s["cited"]] == ["guide/reseau.md"], body
    assert unknown.json()["choices"][0]["message"]["content"] == UNKNOWN_FR
