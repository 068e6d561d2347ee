"""Every sentence of a generated answer is checked, cited or not; an answer that holds nothing
becomes the best passage's quote.

The check runs with the real MiniLM; the engine tests use the real bot (retrieval, prompt,
storage) and a scripted model where the test needs one exact answer (see `scripted_llm`).
"""

from __future__ import annotations

import logging

import pytest
from support import build_bot, scripted_llm

from chatforge.chat.answer import Source, cited_sentences
from chatforge.chat.verify import carries_claim, check_answer, names
from chatforge.schema import Hit

APT = (
    "Downloaded .deb files are kept in /var/cache/apt/archives; apt-get clean removes them "
    "to free disk space."
)
APT_FR = (
    "Les paquets .deb téléchargés sont gardés dans /var/cache/apt/archives ; apt-get clean "
    "les supprime pour libérer de la place sur le disque."
)
ZEBRAS = "Zebras migrate across the Serengeti every year, following the rains."
FR_DOCS = {
    "guide/installer.md": (
        "# Installer\n\nLancez `apt install widget` pour installer l'outil widget sur Debian.\n\n"
        "## Supprimer\n\nPour le désinstaller complètement, utilisez `apt purge widget` ; "
        "cela supprime aussi ses fichiers de configuration.\n"
    ),
    "notes/animaux.txt": "Les zèbres traversent le Serengeti chaque année, suivant les pluies.\n",
}


def _source(n: int, text: str) -> Source:
    return Source(n, Hit(text, 0.5, f"doc{n}.md", "FAQ", "", 0, len(text), n, n), 0.5)


@pytest.mark.parametrize(
    "sentence",
    [
        "Hello!",
        "Thanks for asking.",
        "I don't know: the passages do not say.",
        "Sure, here it is.",
        "Bonjour !",
        "Je ne sais pas : les passages n'en parlent pas.",
        "Merci de votre question.",
        "Question: How do I remove the widget completely?",
        "Comment désinstaller complètement le widget ?",
    ],
)
def test_greetings_declines_and_short_sentences_carry_no_claim(sentence):
    assert not carries_claim(sentence)


@pytest.mark.parametrize(
    "sentence",
    ["Then run rm -rf / to free all disk space.", "Lancez ensuite rm -rf / pour tout effacer."],
)
def test_a_command_is_a_claim(sentence):
    assert carries_claim(sentence)


@pytest.mark.parametrize(
    ("passage", "text", "bad"),
    [
        (
            APT,
            "apt-get clean removes the downloaded .deb files [1]. Then run rm -rf / to free "
            "all disk space.",
            "Then run rm -rf / to free all disk space.",
        ),
        (
            APT_FR,
            "apt-get clean supprime les paquets .deb téléchargés [1]. Lancez ensuite "
            "rm -rf / pour tout effacer.",
            "Lancez ensuite rm -rf / pour tout effacer.",
        ),
    ],
    ids=["en", "fr"],
)
def test_an_uncited_claim_no_passage_supports_is_unsupported(embedder, passage, text, bad):
    sources = [_source(1, passage), _source(2, ZEBRAS)]
    check = check_answer(text, sources, embedder)
    assert [c.verified for c in check.citations] == [True]
    assert check.unsupported == [bad]
    assert len(check.claims) == 2 and not check.holds_nothing
    assert sources[0].verified is True and sources[1].verified is None


@pytest.mark.parametrize(
    "text",
    [
        "Downloaded .deb files are kept in /var/cache/apt/archives.",
        "Les paquets .deb téléchargés sont gardés dans /var/cache/apt/archives.",
    ],
    ids=["en", "fr"],
)
def test_an_uncited_claim_a_passage_supports_holds_whichever_passage_it_is(embedder, text):
    sources = [_source(1, ZEBRAS), _source(2, APT), _source(3, APT_FR)]
    check = check_answer(f"Hello! {text}", sources, embedder)
    assert check.claims == [text] and check.unsupported == []
    assert check.citations == [] and not any(s.cited for s in sources)


def test_a_cited_claim_its_passage_does_not_support_is_unsupported(embedder):
    sources = [_source(1, APT), _source(2, ZEBRAS)]
    check = check_answer("Zebras migrate across the Serengeti every year [1].", sources, embedder)
    assert check.unsupported == ["Zebras migrate across the Serengeti every year ."]
    assert check.holds_nothing and sources[0].verified is False


def test_a_marker_naming_no_passage_leaves_its_sentence_to_every_passage(embedder):
    sources = [_source(1, ZEBRAS), _source(2, APT)]
    check = check_answer(
        "Downloaded .deb files are kept in /var/cache/apt/archives [7].", sources, embedder
    )
    assert [(c.n, c.verified) for c in check.citations] == [(7, False)]
    assert check.unsupported == [] and not check.holds_nothing


def test_an_uncited_destructive_command_is_flagged_in_the_answer(bot_dir, embedder, llm):
    """Scripted: the 135M model cannot be made to write an uncited `rm -rf /` on demand."""
    from chatforge.bot import Bot

    reply = (
        "To install it, run `apt install widget` on Debian [1]. "
        "Afterwards run `sudo rm -rf /` to clean up everything."
    )
    with Bot(bot_dir, embedder=embedder, llm=scripted_llm(llm, reply)) as bot:
        bot.settings.chat.mode = "generate"
        answer = bot.ask("How do I install the widget on Debian?", user="sup-en")
    assert answer.mode == "generate" and not answer.replaced
    assert answer.text == reply
    assert answer.unsupported == ["Afterwards run `sudo rm -rf /` to clean up everything."]
    assert answer.to_dict()["unsupported"] == answer.unsupported
    assert answer.unsupported_citations == 0 and answer.cited[0].verified is True
    assert "not supported" in answer.support_note.lower() and "rm -rf" in answer.support_note


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("How do I uninstall the widget completely?",
         "Run apt purge widget to uninstall it completely [1]. It also removes its configuration "
         "files [1]. Zebras migrate across the Serengeti every year, following the rains, and "
         "they never come back to the widget."),
        ("Comment désinstaller complètement le widget ?",
         "Lancez apt purge widget pour le désinstaller complètement [1]. Cela supprime aussi ses "
         "fichiers de configuration [1]. Les zèbres traversent le Serengeti chaque année."),
    ],
)  # fmt: skip
def test_the_model_stops_once_the_sentences_asked_for_are_written(
    bot_dir, embedder, llm, question, reply
):
    """A short answer keeps its first sentences, so the model is stopped once they are written.

    Scripted: the real model cannot be made to run past the sentences it was asked for."""
    from chatforge.bot import Bot

    with Bot(bot_dir, embedder=embedder, llm=scripted_llm(llm, reply)) as bot:
        bot.settings.chat.mode = "generate"
        bot.settings.chat.shape, bot.settings.chat.sentences = "short", 2
        with bot.stream(question, user="stop-en") as stream:
            items = list(stream)
        answer, pieces = items[-1], items[:-1]
        stored = bot.conversations.history(answer.conversation_id, "stop-en", 1)
    two = reply[: reply.index("[1].", reply.index("[1].") + 1) + 4]
    assert "".join(pieces).strip() == two and "Serengeti" not in answer.text
    assert answer.text == two and stored == [(question, two)]
    assert answer.usage["completion_tokens"] < llm.count_tokens(reply)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_answer_that_holds_nothing_becomes_the_best_passages_quote(
    tmp_path, embedder, llm, bot_dir, caplog, language
):
    """Scripted: a fully unsupported answer must be forced; the real model is not steerable."""
    from chatforge.bot import Bot

    if language == "en":
        folder, question = bot_dir, "How do I uninstall the widget completely?"
        reply = "Zebras make the best pets [1]. Feed them chocolate every single morning."
        expected = "apt purge widget"
    else:
        folder = build_bot(tmp_path, FR_DOCS, embedder)
        question = "Comment désinstaller complètement le widget ?"
        reply = "Les chats adorent le chocolat [1]. Donnez-leur des bonbons chaque matin."
        expected = "widget"  # which of the two passages: MiniLM reads French loosely
    with Bot(folder, embedder=embedder, llm=scripted_llm(llm, reply)) as bot:
        bot.settings.chat.mode = "generate"
        with caplog.at_level(logging.DEBUG, logger="chatforge.chat"):
            stream = bot.stream(question, user=f"quote-{language}")
            items = list(stream)
        stored = bot.conversations.messages(items[-1].conversation_id, f"quote-{language}")
    answer = items[-1]
    streamed = "".join(i for i in items if isinstance(i, str))
    assert streamed.strip() == reply  # what streamed cannot be unsent...
    assert answer.replaced and answer.mode == "extractive"  # ...but the answer is the quote
    assert expected in answer.text and "chocolat" not in answer.text
    assert answer.text.startswith(answer.cited[0].shown.split(".")[0])
    assert answer.unsupported == [] and answer.cited and all(s.verified for s in answer.cited)
    assert stored[-1].text == answer.text
    assert any(reply in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert answer.to_dict()["replaced"] is True


@pytest.mark.parametrize(
    "reply", ["I don't know: the passages do not say.", "Je ne sais pas, désolé."]
)
def test_a_decline_is_kept_not_replaced(bot_dir, embedder, llm, reply):
    """Scripted: the test needs the model to decline although passages were found."""
    from chatforge.bot import Bot

    with Bot(bot_dir, embedder=embedder, llm=scripted_llm(llm, reply)) as bot:
        bot.settings.chat.mode = "generate"
        answer = bot.ask("How do I install the widget on Debian?", user="decline", save=False)
    assert answer.sources and answer.text == reply
    assert answer.mode == "generate" and not answer.replaced and answer.unsupported == []


def test_the_real_model_answer_is_checked_sentence_by_sentence(bot):
    answer = bot.ask("How do I uninstall the widget completely?", user="sup-real", seed=0)
    assert answer.mode in ("generate", "extractive")
    assert answer.replaced == (answer.mode == "extractive")
    assert set(answer.unsupported) <= {x for x, _ in cited_sentences(answer.text)}
    assert answer.to_dict()["unsupported"] == answer.unsupported


@pytest.mark.parametrize(
    ("question", "reply", "unknown"),
    [
        ("Who maintains the widget?", "The widget's maintainer is. [1]", None),
        ("Qui maintient le widget ?", "Le widget est maintenu par [1].", None),
        (
            "How do I install steam with apt?",
            "To install it, run apt install widget for Steam. [1]",
            "I don't know",
        ),
        (
            "Comment installer steam avec apt ?",
            "Pour installer Steam, lancez apt install widget. [1]",
            "Je ne sais pas",
        ),
        (
            "How do I install the widget on an ext4 partition with apt?",
            "Run apt install widget to install the widget tool on Debian. [1] Then grow the "
            "ext4 partition with resize2fs. [1]",
            "I don't know",
        ),
        (
            "How do I install steam with apt?",
            "Run apt install widget to install the widget tool on Debian. [1] Then Steam "
            "starts from the games menu. [1]",
            "I don't know",
        ),
        (
            "Comment installer steam avec apt ?",
            "Lancez apt install widget pour installer l'outil widget sur Debian. [1] Ensuite "
            "Steam démarre depuis le menu des jeux. [1]",
            "Je ne sais pas",
        ),
    ],
)
def test_an_answer_that_stops_short_or_names_what_no_passage_holds_is_replaced(
    tmp_path, embedder, llm, bot_dir, question, reply, unknown
):
    """Scripted: the small model writes these when its passages lack the answer (an answer left
    blank; the asked-for name put into a passage about something else, alone or after a
    sentence copied from it), but not on cue. A blank is replaced by the best passage's quote;
    a name no passage holds, by a decline."""
    from chatforge.bot import Bot

    folder = (
        bot_dir if question.startswith(("Who", "How")) else build_bot(tmp_path, FR_DOCS, embedder)
    )
    with Bot(folder, embedder=embedder, llm=scripted_llm(llm, reply)) as bot:
        bot.settings.chat.mode = "generate"
        answer = bot.ask(question, user="unfinished")
        stored = bot.conversations.messages(answer.conversation_id, "unfinished")
    assert answer.sources, "the question must reach a passage for the model to be called"
    assert answer.replaced and stored[-1].text == answer.text
    if unknown is None:
        assert answer.mode == "extractive" and "widget" in answer.text
        assert answer.text.startswith(answer.cited[0].shown.split(".")[0])
    else:
        assert answer.text.startswith(unknown) and answer.mode == "fixed"


@pytest.mark.parametrize(
    ("passage", "wrong", "right"),
    [
        (
            "To install Debian, boot off the CD, insert it and reboot.",
            "Installing Steam on Debian is easy: boot off the CD, insert it and reboot.",
            "Installing Debian is easy: boot off the CD, insert it and reboot.",
        ),
        (
            "Pour installer Debian, démarrez sur le CD, insérez-le et redémarrez.",
            "Pour installer Steam sur Debian, démarrez sur le CD, insérez-le et redémarrez.",
            "Pour installer Debian, démarrez sur le CD, insérez-le et redémarrez.",
        ),
    ],
)
def test_a_name_the_passage_does_not_hold_is_unsupported(embedder, passage, wrong, right):
    check = check_answer(wrong + " [1]", [_source(1, passage)], embedder)
    assert check.unsupported == [wrong] and check.citations[0].verified is False
    assert check_answer(right + " [1]", [_source(1, passage)], embedder).unsupported == []


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("Installing Steam on Debian is easy.", {"steam", "debian"}),
        ("Pour installer Steam sur Debian, démarrez sur le CD.", {"steam", "debian", "cd"}),
        ("Question: Quel fichier faut-il modifier pour changer le port ?", set()),
        ("Yes, I think The Debian FAQ says so.", {"debian", "faq"}),
        ("Pour agrandir une partition ext4, lancez resize2fs.", {"ext4", "resize2fs"}),
        ("Ext4 grows online, on the 2nd try with 10GB free.", {"ext4"}),
    ],
)
def test_names_are_capitalized_words_but_not_common_ones(sentence, found):
    """A name that no passage holds makes an answer a decline when the question asks about it,
    so a capitalized common word ("Quel" of an echoed question, "The") must not count."""
    assert names(sentence) == found
