"""What a small model echoes from its prompt is removed, and each claim that holds gets its [n]."""

import pytest

from chatforge.chat.answer import Source, cited_sentences
from chatforge.chat.tidy import cite, tidy, unfinished
from chatforge.schema import Hit

FAQ = Source(
    1,
    Hit(
        "Passing the --log option to dpkg makes it log status changes.",
        1.0,
        "faq.html",
        "Chapter 9. Keeping your Debian system up-to-date",
        "9.4. How can I keep a log of the packages I added to the system? I'd like to know "
        "when upgrades and removals have occurred!",
        0,
        1,
        1,
        1,
    ),
    0.6,
)
GUIDE = Source(
    2,
    Hit("Installez le paquet libpaper1.", 1.0, "guide.md", "Guide", "Taille du papier", 0, 1, 2, 2),
    0.5,
)


@pytest.mark.parametrize(
    ("raw", "tidied"),
    [
        # the passage's numbering, heading question and marker, copied before the answer
        (
            "9.4. [1] How can I keep a log of the packages I added to the system? I'd like to "
            "know when upgrades and removals have occurred! [1] Passing the --log option to "
            "dpkg makes it log status changes. [1]",
            "Passing the --log option to dpkg makes it log status changes. [1]",
        ),
        # the chapter title and a marker opening the answer
        (
            "[1] Chapter 9. Keeping your Debian system up-to-date 9.4. Pass --log to dpkg.",
            "Pass --log to dpkg. [1]",
        ),
        (
            "Based on the information provided in the passages, pass --log to dpkg [1].",
            "Pass --log to dpkg [1].",
        ),  # fmt: skip
        (
            "(from: Taille du papier) D'après les passages, installez libpaper1 [2].",
            "Installez libpaper1 [2].",
        ),  # fmt: skip
        (
            "Selon les documents : il faut installer libpaper1. [2]",
            "Il faut installer libpaper1. [2]",
        ),  # fmt: skip
        # the passage's heading line, closed around a heading with parentheses, left unclosed,
        # or without its parentheses
        (
            "Debian ships gnash and swfdec. [1]\n(from: Where is a player for Flash (SWF)?)",
            "Debian ships gnash and swfdec. [1]",
        ),
        (
            "Pass --log to dpkg. [1]\n(from: How can I keep a log of the packages I added",
            "Pass --log to dpkg. [1]",
        ),
        (
            "Pass --log to dpkg. [1]\nfrom: How can I keep a log of the packages I added to the "
            "system?",
            "Pass --log to dpkg. [1]",
        ),
        (
            "Installez le paquet libpaper1. [2]\nfrom: Taille du papier",
            "Installez le paquet libpaper1. [2]",
        ),
        # an answer with nothing echoed is kept as written
        (
            "No. You can remove them with apt clean. [1]",
            "No. You can remove them with apt clean. [1]",
        ),  # fmt: skip
    ],
)
def test_echoed_scaffolding_is_removed_in_english_and_french(raw, tidied):
    assert tidy(raw, [FAQ, GUIDE]) == tidied


@pytest.mark.parametrize(
    "text",
    [
        "The report came from Alice: [1]\nFrom: Alice <alice@example.org>\nSubject: dpkg",
        "Build on the small image: [1]\nfrom: alpine\nrun: apt install libpaper1",
    ],
)
def test_a_from_line_that_names_no_heading_stays(text):
    assert tidy(text, [FAQ, GUIDE]) == text


def test_an_uncited_sentence_gets_the_passage_that_holds_it_and_a_wrong_one_is_replaced():
    text = "Pass --log to dpkg. [2] Installez libpaper1.\n  apt install libpaper1"
    cited = cite(
        text,
        {"Pass --log to dpkg.": 1, "Installez libpaper1.": 2, "apt install libpaper1": 2},
    )
    assert cited == "Pass --log to dpkg. [1] Installez libpaper1. [2]\n  apt install libpaper1 [2]"
    assert [ns for _, ns in cited_sentences(cited)] == [[1], [2], [2]]


def test_a_sentence_no_passage_holds_stays_uncited():
    assert cite("Run rm -rf / to free space.", {}) == "Run rm -rf / to free space."
    assert cite("Run rm -rf / to free space. Pass --log.", {"Pass --log.": 1}) == (
        "Run rm -rf / to free space. Pass --log. [1]"
    )


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Dan J. Bernstein wrote qmail. [1] It ships.", ["Dan J. Bernstein wrote qmail."]),
        ("Ask Dr. Okafor, e.g. by mail. [1] Then wait.", ["Ask Dr. Okafor, e.g. by mail."]),
        ("Voir M. Dupont, c.-à-d. le support. [1] Puis.", ["Voir M. Dupont, c.-à-d. le support."]),
    ],
)
def test_initials_and_titles_do_not_end_a_sentence(text, sentences):
    """A marker never lands between "J." and "Bernstein": the split and the citing agree."""
    assert [s for s, _ in cited_sentences(text)][:1] == sentences
    assert cite(text, {sentences[0]: 2}).startswith(sentences[0] + " [2]")


def test_a_sentence_citing_passages_beside_the_one_that_holds_it_keeps_only_that_one(embedder):
    from chatforge.chat.verify import check_answer

    text = "Passing the --log option to dpkg makes it log status changes. [1][2]"
    check = check_answer(text, [FAQ, GUIDE], embedder)
    assert check.attributions == {
        "Passing the --log option to dpkg makes it log status changes.": 1
    }
    assert cite(text, check.attributions) == (
        "Passing the --log option to dpkg makes it log status changes. [1]"
    )


@pytest.mark.parametrize(
    ("question", "raw", "tidied"),
    [
        (
            "Within how many days are returns accepted?",
            "Within how many days are returns accepted [1]. Returns are accepted within 30 days.",
            "Returns are accepted within 30 days.",
        ),
        (
            "Combien coûte l'abonnement mensuel ?",
            "Combien coûte l'abonnement mensuel [1]. L'abonnement coûte 15 euros [1].",
            "L'abonnement coûte 15 euros [1].",
        ),
        ("What is my customer number?", "What is my customer number [1].", ""),
        ("Where do release names come from?", "[3] [2] [1]", ""),
        (
            "Quel fichier faut-il modifier pour changer le port ?",
            "Modifiez /etc/widget/widget.conf. [1]\n\nQuestion: Quel fichier faut-il modifier "
            "pour changer le …",
            "Modifiez /etc/widget/widget.conf. [1]",
        ),
        (
            "Which file sets the port?",
            "Edit /etc/widget/widget.conf. [1]\nQuestion : which file sets the port?\nAnswer: "
            "/etc/widget/widget.conf",
            "Edit /etc/widget/widget.conf. [1]",
        ),
        (
            "How do I install the widget?",
            "Run apt install widget. [1]\nQuestion: what about dpkg? Use dpkg -i. [1]",
            "Run apt install widget. [1]\nQuestion: what about dpkg? Use dpkg -i. [1]",
        ),
    ],
)
def test_the_question_restated_as_an_answer_is_removed(question, raw, tidied):
    assert tidy(raw, [FAQ], question) == tidied


@pytest.mark.parametrize(
    ("raw", "tidied"),
    [("88217.", "88217."), ("[1] 19.75", "19.75 [1]"), ("2025-04-11 [n].", "2025-04-11.")],
)
def test_a_lone_number_is_an_answer_not_numbering_debris(raw, tidied):
    assert tidy(raw, [FAQ], "What is my customer number?") == tidied
    assert tidy("3.2.3. Run dpkg --log [1].", [FAQ]) == "Run dpkg --log [1]."


@pytest.mark.parametrize(
    ("text", "stops"),
    [
        ("The current project leader is. [1]", True),
        ("The best driver version for gaming is [1].", True),
        ("Le fichier s'appelle : [2]", True),
        ("Le paquet est maintenu par [1].", True),
        ("The leader is elected every year. [1]", False),
        ("Install it with apt. [1] The leader is.", False),
        ("Les paquets sont gérés par dpkg. [1]", False),
        ("", False),
    ],
)
def test_an_answer_that_stops_where_its_answer_should_be_is_unfinished(text, stops):
    assert unfinished(text) is stops
