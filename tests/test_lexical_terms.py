"""Words to BM25 terms per language (chatforge.lexical) and language labels (languages)."""

from __future__ import annotations

from chatforge.languages import detect, label_chunks
from chatforge.lexical import fold, query_terms, terms, words


def test_accented_and_non_latin_words_stay_whole():
    assert words("Comment désinstaller l'élément « Sécurité » ?") == [
        "comment",
        "désinstaller",
        "l",
        "élément",
        "sécurité",
    ]
    assert words("हिन्दी पाठ") == ["हिन्दी", "पाठ"]  # vowel signs are marks, not breaks


def test_french_stems_meet_across_word_forms_and_missing_accents():
    assert terms("désinstaller", "fr") == terms("désinstallation", "fr") == ["desinstall"]
    assert terms("desinstaller", "fr") == terms("Désinstaller", "fr")
    assert terms("les paquets installés", "fr") == ["le", "paquet", "install"]


def test_english_stems_meet_across_word_forms():
    assert terms("installing", "en") == terms("installed", "en") == terms("install", "en")
    assert terms("running resets", "en") == ["run", "reset"]


def test_folding_keeps_marks_that_make_a_letter():
    assert fold("désinstall") == "desinstall"
    assert fold("ελληνικά") == "ελληνικά"


def test_a_question_drops_stopwords_and_is_stemmed_in_each_language_given():
    assert query_terms("Comment désinstaller le gadget ?", ["fr"]) == ["desinstall", "gadget"]
    both = query_terms("installer le gadget", ["fr", "en"])
    assert "install" in both and "instal" in both  # French stem, then the English one


def test_languages_of_questions_and_chunks():
    assert detect("Comment désinstaller le gadget ?")[0] == "fr"
    assert detect("How do I remove the gadget?")[0] == "en"
    assert detect("42 !")[0] == ""
    labels = label_chunks(
        [
            "Pour installer le gadget, branchez-le puis lancez l'outil de configuration fourni.",
            "Tableau 3",
            "To remove the gadget, unplug it and delete its configuration folder.",
            "Le gadget se met à jour tout seul chaque nuit quand il est branché au réseau.",
        ]
    )
    # The short row takes its document's language; the English paragraph keeps its own.
    assert labels == ["fr", "fr", "en", "fr"]
