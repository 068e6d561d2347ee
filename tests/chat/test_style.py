"""Each profile's style shows in its answers: the teacher's numbered steps and check question,
the FAQ's short exact answer, the personal bot's first person; in English and in French."""

import re

import pytest
from support import build_bot

from chatforge.bot import Bot
from chatforge.chat.style import check_question, enough, rules, sentences, shape
from chatforge.config import ChatSettings
from chatforge.profiles import settings_for

COURSE = {
    "photosynthesis.md": "# Photosynthesis\n\nPhotosynthesis turns light energy into chemical "
    "energy in the chloroplasts. In the thylakoid membranes, light splits water molecules; this "
    "releases oxygen as a by-product and gives electrons that produce ATP and NADPH.\n",
    "photosynthese.md": "# La photosynthèse\n\nLa photosynthèse transforme l'énergie de la "
    "lumière en énergie chimique dans les chloroplastes. Dans les thylakoïdes, la lumière "
    "découpe les molécules d'eau ; cela libère de l'oxygène et fournit les électrons qui "
    "produisent l'ATP et le NADPH.\n",
}
FAQ = {
    "faq.md": "# Delivery\n\n## How long does delivery take?\n\nOrders placed before 2 pm ship "
    "the same day and arrive in 2 to 3 working days. Tracking links come by e-mail. Weekend "
    "orders ship on Monday. Parcels above 20 kg go by freight.\n\n## Combien de temps prend la "
    "livraison ?\n\nLes commandes passées avant 14 h partent le jour même et arrivent en 2 à 3 "
    "jours ouvrés. Le lien de suivi arrive par e-mail. Les commandes du week-end partent le "
    "lundi.\n",
}


def test_the_shapes_lay_out_the_same_sentences():
    text = "Light splits water. [1] Oxygen is released. [1] ATP is made. [2]"
    steps = ChatSettings(shape="steps", sentences=3)
    assert shape(text, steps) == (
        "1. Light splits water. [1]\n2. Oxygen is released. [1]\n3. ATP is made. [2]"
    )
    assert shape(text, ChatSettings(shape="short", sentences=2)) == (
        "Light splits water. [1] Oxygen is released. [1]"
    )
    assert shape(text, ChatSettings()) == text
    numbered = "1. Install the tool [1].\n2. Run it now. [1]\n3. Check the log.\n4. Done."
    assert shape(numbered, steps) == (  # the model's own numbers are not steps of their own
        "1. Install the tool [1].\n2. Run it now. [1]\n3. Check the log."
    )
    assert "three short steps" in rules(steps) and "one to three sentences" in rules(ChatSettings())


@pytest.mark.parametrize(
    ("written", "n", "kept"),
    [
        ("Light splits water. [1] Oxygen is released [1]. ATP is", 2,
         "Light splits water. [1] Oxygen is released [1]."),
        ("La lumière découpe l'eau. [1] [2] L'oxygène", 1, "La lumière découpe l'eau. [1] [2]"),
        ("Use a tool, e.g. apt, as Dr. Okafor says. Then", 1,
         "Use a tool, e.g. apt, as Dr. Okafor says."),
        ("1. Run apt update.\n2. Run apt upgrade.\n3. Reboot", 2,
         "1. Run apt update.\n2. Run apt upgrade."),
        ("Light splits water. [1] Oxygen is released. [1]", 2, None),
        ("Run this:\n```\napt clean\n```\nIt frees space. More", 1, None),
    ],
)  # fmt: skip
def test_an_answer_is_complete_once_it_holds_the_sentences_asked_for(written, n, kept):
    end = enough(written, n)
    assert (written[:end].rstrip() if end is not None else None) == kept


@pytest.mark.parametrize(
    ("written", "language", "question"),
    [
        ("Question: What does light split?\nAnswer: water", "en", "What does light split?"),
        ("1. Que libère la photolyse ?", "fr", "Que libère la photolyse ?"),
        ("Light splits water.", "en", "Can you explain this back in your own words?"),
        ("", "fr", "Pouvez-vous le réexpliquer avec vos propres mots ?"),
    ],
)
def test_the_check_question_is_one_question_or_a_fixed_one(written, language, question):
    assert check_question(written, language) == question


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, embedder, llm):
    b = Bot(build_bot(tmp_path_factory.mktemp("teacher"), COURSE, embedder, "teacher"),
            embedder=embedder, llm=llm)  # fmt: skip
    b.settings.llm.temperature = 0.0
    yield b
    b.close()


@pytest.mark.parametrize(
    "question",
    ["How do plants make oxygen?", "Comment les plantes produisent-elles de l'oxygène ?"],
)
def test_the_teacher_explains_in_steps_and_ends_with_a_question(teacher, question):
    answer = teacher.ask(question, user="student", max_tokens=120)
    assert answer.mode == "generate" and answer.cited
    explanation, _, asked = answer.text.rpartition("\n\n")
    lines = explanation.splitlines()
    assert len(lines) == 1 or [ln[:3] for ln in lines] == [
        f"{i}. " for i in range(1, len(lines) + 1)
    ]
    assert asked.endswith("?") and "\n" not in asked
    assert answer.edited  # the pieces streamed were the model's prose


@pytest.fixture(scope="module")
def faq(tmp_path_factory, embedder, llm):
    b = Bot(build_bot(tmp_path_factory.mktemp("faq"), FAQ, embedder, "faq"), embedder=embedder,
            llm=llm)  # fmt: skip
    yield b
    b.close()


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("how long will my order take to arrive", "2 to 3"),
        ("Combien de temps pour la livraison ?", "2 à 3"),
    ],
)
def test_the_faq_answer_is_short_and_keeps_the_faqs_numbers(faq, question, fact):
    answer = faq.ask(question, user="customer")
    assert answer.mode == "generate" and answer.cited
    assert len(sentences(answer.text)) <= 2 and fact in answer.text


def test_the_personal_bot_is_asked_to_speak_as_the_user(embedder, llm, tmp_path):
    notes = {"notes.md": "# My notes\n\n- Dentist: Tuesday 14 May at 9:30, Dr. Okafor.\n"}
    b = Bot(build_bot(tmp_path, notes, embedder, "personal"), embedder=embedder, llm=llm)
    turn = b.prepare("When is my dentist appointment?")
    system = turn.prompt.messages[0]["content"]
    assert "first person" in system and settings_for("personal").chat.system_prompt in system
    answer = b.ask("When is my dentist appointment?")
    said_the_day = re.search(r"14(th)? May|May 14", answer.text)  # either way of writing it
    assert said_the_day and "Dr. [" not in answer.text  # no marker after "Dr."
    b.close()
