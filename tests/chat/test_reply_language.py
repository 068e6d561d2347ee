"""Replies in the question's language: the unknown answer, fixed replies and the prompt's
instruction, in English and French, with the real bot and models."""

from __future__ import annotations

import pytest

from chatforge.bot import Bot
from chatforge.chat.prompt import REPLY_IN
from chatforge.profiles import PROFILES

UNRELATED = {
    "en": "What is the boiling point of mercury on Venus?",
    "fr": "Quelle est la température d'ébullition du mercure sur Vénus ?",
}


@pytest.mark.parametrize("mode", ["generate", "extractive"])
def test_nothing_relevant_gets_the_unknown_answer_in_the_questions_language(bot, mode):
    bot.settings.chat.mode = mode
    english = bot.ask(UNRELATED["en"], user="lang", save=False)
    french = bot.ask(UNRELATED["fr"], user="lang", save=False)
    assert (english.mode, english.text) == ("fixed", bot.settings.chat.unknown_answer)
    assert (french.mode, french.text) == ("fixed", bot.settings.chat.unknown_answers["fr"])
    assert french.text.startswith("Je ne sais pas") and french.prompt is None


@pytest.mark.parametrize(
    ("question", "language"),
    [("Combien de lunes a Jupiter ?", "fr"), ("How many moons has Jupiter?", "en")],
)
def test_a_short_question_with_as_many_french_as_english_words_is_answered_in_its_language(
    bot, question, language
):
    """ "de" is French, "a" English: the common words tie, so the language detector decides."""
    answer = bot.ask(question, user="lang", save=False)
    assert (answer.mode, answer.text) == ("fixed", bot.settings.chat.unknown_reply(language))


def test_a_users_own_unknown_answer_is_still_the_english_reply(bot):
    bot.settings.chat.unknown_answer = "Nothing on that here."
    bot.settings.chat.unknown_answers = {}
    assert bot.ask(UNRELATED["en"], user="lang", save=False).text == "Nothing on that here."
    assert bot.ask(UNRELATED["fr"], user="lang", save=False).text == "Nothing on that here."
    bot.settings.chat.unknown_answers = {"fr": "Rien là-dessus ici."}
    assert bot.ask(UNRELATED["fr"], user="lang", save=False).text == "Rien là-dessus ici."


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_has_a_french_unknown_answer(tmp_path, embedder, profile):
    with Bot(Bot.init(tmp_path / profile, profile).folder, embedder=embedder) as bot:
        chat = bot.settings.chat
        assert chat.unknown_reply("fr") == chat.unknown_answers["fr"] != chat.unknown_answer
        assert chat.unknown_reply("en") == chat.unknown_answer
        assert bot.ask(UNRELATED["fr"], user="lang", save=False).text == chat.unknown_reply("fr")


@pytest.mark.parametrize(
    ("said", "start"),
    [
        ("Remember that my editor is Emacs.", "Noted"),
        ("Souviens-toi que mon éditeur est Emacs.", "C'est noté"),
    ],
)
def test_fixed_replies_follow_the_question(bot, said, start):
    answer = bot.ask(said, user="lang-fixed", save=False)
    assert answer.mode == "fixed" and answer.text.startswith(start)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("How do I uninstall the widget completely?", "en"),
        ("Comment désinstaller complètement le widget ?", "fr"),
    ],
)
def test_the_prompt_asks_for_an_answer_in_the_questions_language(bot, question, language):
    answer = bot.ask(question, user="lang-prompt", save=False)
    assert answer.prompt is not None
    system = answer.prompt.messages[0]["content"]
    assert system.startswith(bot.settings.chat.system_prompt.strip())
    assert REPLY_IN[language] in system
    assert REPLY_IN["fr" if language == "en" else "en"] not in system
