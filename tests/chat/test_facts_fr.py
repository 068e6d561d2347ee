"""Facts and personal questions read from what users write, in French and English (no model)."""

from __future__ import annotations

import pytest

from chatforge.chat.facts import (
    extract_slotted,
    language_of,
    only_facts,
    remember_request,
    slot_of,
)
from chatforge.chat.personal import personal_question


@pytest.mark.parametrize(
    ("said", "fact", "slot"),
    [
        ("Je m'appelle Ada.", "Je m'appelle Ada", "name"),
        ("Bonjour, mon nom est Ada Lovelace.", "Mon nom est Ada Lovelace", "name"),
        ("J\u2019habite à Lyon.", "J'habite à Lyon", "home"),
        ("J'habite en France depuis dix ans.", "J'habite en France depuis dix ans", "home"),
        ("Maintenant j'habite à Paris.", "J'habite à Paris", "home"),
        ("Je vis à Marseille.", "Je vis à Marseille", "home"),
        ("Je travaille chez Renault.", "Je travaille chez Renault", "employer"),
        ("Je travaille comme infirmière.", "Je travaille comme infirmière", "job"),
        (
            "Je travaille à l'hôpital Édouard-Herriot.",
            "Je travaille à l'hôpital Édouard-Herriot",
            "employer",
        ),
        ("Je suis infirmière.", "Je suis infirmière", "job"),
        ("Je suis développeur depuis 2015.", "Je suis développeur depuis 2015", "job"),
        ("Je suis née à Nantes.", "Je suis née à Nantes", "birth"),
        ("J'utilise Debian sur mon portable.", "J'utilise Debian sur mon portable", "os"),
        ("J'utilise Emacs.", "J'utilise Emacs", "editor"),
        ("J'utilise beaucoup le terminal.", "J'utilise beaucoup le terminal", None),
        ("Je préfère le thé vert.", "Je préfère le thé vert", None),
        (
            "Mon adresse e-mail est ada@exemple.fr.",
            "Mon adresse e-mail est ada@exemple.fr",
            "email",
        ),
        ("J'ai 34 ans.", "J'ai 34 ans", "age"),
        (
            "Ma couleur préférée est le bleu.",
            "Ma couleur préférée est le bleu",
            "favourite couleur",
        ),
        ("I moved to Berlin last month.", "I moved to Berlin last month", "home"),
        ("I live in Paris now.", "I live in Paris now", "home"),
        ("I'm now working at Acme Corp.", "I'm now working at Acme Corp", "employer"),
        ("My email is ada@example.com.", "My email is ada@example.com", "email"),
        ("My favorite color is green.", "My favorite color is green", "favourite colour"),
    ],
)
def test_a_statement_is_captured_with_its_slot(said, fact, slot):
    assert extract_slotted(said) == [(fact, slot)]


def test_two_statements_in_one_sentence_are_two_facts():
    assert extract_slotted("Je suis étudiant et j'habite à Lyon.") == [
        ("Je suis étudiant", "job"),
        ("J'habite à Lyon", "home"),
    ]
    assert extract_slotted("My name is Ada, and I live in Lyon, so hello.") == [
        ("My name is Ada", "name"),
        ("I live in Lyon", "home"),
    ]


@pytest.mark.parametrize(
    "said",
    [
        "Comment je m'appelle ?",
        "Où est-ce que j'habite ?",
        "Est-ce que je vis à Paris",
        "Quel est mon métier ?",
        "Je suis fatigué.",
        "Je suis un peu perdu.",
        "Je suis Béatrice.",
        "Je viens de finir.",
        "Je parle de mon projet.",
        "Je n'habite plus à Lyon.",
        "Where do I live?",
        "Do I live in Paris",
        "I don't live in Lyon anymore.",
    ],
)
def test_questions_and_non_statements_are_never_captured(said):
    assert extract_slotted(said) == []


@pytest.mark.parametrize(
    ("said", "fact"),
    [
        ("Retiens que j'habite à Lyon.", "j'habite à Lyon"),
        ("Souviens-toi que mon chat s'appelle Tom.", "mon chat s'appelle Tom"),
        ("N'oublie pas que je suis allergique aux noix.", "je suis allergique aux noix"),
        ("Note que je préfère le thé, s'il te plaît.", "je préfère le thé"),
        ("Notez que mon bureau est au 3e étage.", "mon bureau est au 3e étage"),
        ("Remember that my locker code is 4512.", "my locker code is 4512"),
    ],
)
def test_explicit_requests_to_remember(said, fact):
    assert remember_request(said) == fact


def test_a_question_about_remembering_is_not_a_request():
    assert remember_request("Tu te souviens que j'habite à Lyon ?") is None
    assert remember_request("Do you remember that?") is None
    assert slot_of("j'habite à Lyon") == "home" and slot_of("mon chat s'appelle Tom") is None


@pytest.mark.parametrize(
    ("asked", "slot", "language"),
    [
        ("What's my name?", "name", "en"),
        ("Do you remember my name?", "name", "en"),
        ("who am i", "name", "en"),
        ("Where do I live?", "home", "en"),
        ("Which city am I living in these days?", "home", "en"),
        ("What do I do for a living?", "job", "en"),
        ("Where do I work?", "employer", "en"),
        ("Do you remember where I work?", "employer", "en"),
        ("Can you remind me what my name is?", "name", "en"),
        ("What's my current city?", "home", "en"),
        ("How old am I?", "age", "en"),
        ("What's my favourite color?", "favourite colour", "en"),
        ("Comment je m'appelle ?", "name", "fr"),
        ("C'est quoi mon prénom ?", "name", "fr"),
        ("Où j'habite ?", "home", "fr"),
        ("Dans quelle ville est-ce que je vis ?", "home", "fr"),
        ("Quel est mon métier ?", "job", "fr"),
        ("Qu'est-ce que je fais dans la vie ?", "job", "fr"),
        ("Chez qui je travaille ?", "employer", "fr"),
        ("Je bosse où ?", "employer", "fr"),
        ("J'habite où déjà ?", "home", "fr"),
        ("Quelle est ma couleur préférée ?", "favourite couleur", "fr"),
    ],
)
def test_personal_questions_name_their_slot_and_language(asked, slot, language):
    question = personal_question(asked)
    assert question is not None and question.slots[0] == slot and question.language == language


@pytest.mark.parametrize(
    "asked",
    [
        "How do I install the widget on Debian?",
        "Which distribution should I use for a server?",
        "Quel système de fichiers choisir ?",
        "Comment réinitialiser mon mot de passe ?",
        "What is the default port?",
        "Can I install the widget where I live?",
        "My name is Ada.",
    ],
)
def test_other_questions_are_not_personal(asked):
    assert personal_question(asked) is None


def test_a_message_of_facts_only_and_its_language():
    assert only_facts("Hi! I live in Paris now.") and only_facts("Maintenant j'habite à Paris.")
    assert not only_facts("My name is Ada and my widget will not start.")
    assert not only_facts("I live in Paris. How do I install the widget?")
    assert not only_facts("I have two cats.")
    assert language_of("Maintenant j'habite à Paris.") == "fr"
    assert language_of("I live in Paris now.") == "en"
