"""Fusing the dense and BM25 halves of a search: the arithmetic, then a real bot."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import bot_over

from chatforge.errors import ChatforgeError
from chatforge.retrieve import adaptive, by_best, convex, rrf, standout

DOCS = {
    "donate.md": "# Donating equipment\n\nWe gladly take the desktops and laptops you no longer "
    "use. Write to the hardware team and they will arrange shipping.\n",
    "museum.md": "# Opening hours\n\nThe museum opens at nine. Its first room shows the town's "
    "printing press, a loom and the oldest computer of the region, next to a collection of "
    "coins.\n",
    "laptop.md": "# Laptop battery\n\nTo make my battery last longer I dim the screen and give "
    "the fan more room.\n",
    "shop.md": "# Shop hours\n\nOur shop sells new phones. Open from nine to five; my colleagues "
    "can give you a receipt.\n",
}
QUESTION = "can I give my old computer to you"


def test_convex_weighs_scores_clipped_to_a_full_match():
    dense = by_best([(1, 0.8), (2, 0.4), (3, -0.2)])
    lexical = [(3, 1.3), (2, 0.5)]  # BM25 over the question's full match: above 1 is clipped
    fused = convex([(dense, 0.9), (lexical, 0.1)])
    # dense rescales to 1, .5 and 0 (a negative cosine counts as 0); chunk 1 is not in BM25's
    # list.
    assert fused == pytest.approx({1: 0.9, 2: 0.45 + 0.05, 3: 0.1})


def test_the_dense_scale_does_not_move_wherever_its_list_is_cut():
    dense = [(1, 0.9), (2, 0.6), (3, 0.3), (4, 0.1)]
    assert dict(by_best(dense[:2])) == pytest.approx(dict(by_best(dense)[:2]))
    assert by_best([(7, 0.0), (8, -0.1)]) == []


def test_a_bm25_list_matching_only_common_words_weighs_little_beside_dense():
    """The same BM25 ranking, once with its best hit matching the whole question (1.0) and
    once matching a common word of it (0.1): rescaled by its best hit, both would weigh alike.
    Dense prefers chunk 1 by a little."""
    dense = by_best([(1, 0.56), (2, 0.55)])
    sure, unsure = [(2, 1.0)], [(2, 0.1)]
    assert max(convex([(dense, 0.9), (sure, 0.1)]).items(), key=lambda kv: kv[1])[0] == 2
    assert max(convex([(dense, 0.9), (unsure, 0.1)]).items(), key=lambda kv: kv[1])[0] == 1


def test_rrf_adds_weighted_reciprocal_ranks():
    fused = rrf([([(1, 0.9), (2, 0.5)], 1.0), ([(2, 7.0)], 0.5)], k=10)
    assert fused == pytest.approx({1: 1 / 11, 2: 1 / 12 + 0.5 / 11})


@pytest.fixture
def bot(make_bot, tmp_path, monkeypatch):
    return bot_over(make_bot, tmp_path, DOCS, monkeypatch)


def test_a_clear_dense_answer_that_bm25_misses_stays_first(bot):
    """The answer shares no word with the question; BM25 ranks the museum first on "computer"
    and also returns pages that match only the common word "give". Rank fusion counts those
    ranks as evidence and drops the answer to last; the convex fusion hears that dense is sure
    and BM25 is not."""
    r = bot.settings.retrieve
    r.lexical = False
    assert bot.search(QUESTION, k=1)[0].source == "donate.md"
    r.lexical, r.dense = True, False
    assert "donate.md" not in [h.source for h in bot.search(QUESTION, k=4)]
    r.dense = True
    hits = bot.search(QUESTION, k=4)
    assert hits[0].source == "donate.md"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    r.fusion = "rrf"
    assert bot.search(QUESTION, k=4)[0].source != "donate.md"


def test_zero_weights_for_both_halves_are_refused(bot):
    bot.settings.retrieve.dense_weight = bot.settings.retrieve.lexical_weight = 0
    with pytest.raises(ChatforgeError, match="both 0"):
        bot.search(QUESTION)


def test_adaptive_fusion_hears_the_half_whose_best_stands_out():
    """Constructed halves: one returns a flat list (clueless: its best is one of many
    look-alikes), the other puts one chunk far above the rest. Fixed weights let the flat half
    decide; adaptive fusion ranks first what the better half ranks first, whichever half it is."""
    flat = by_best([(i, 0.50 - 0.002 * i) for i in range(1, 30)])  # dense, lost in a language
    peaked = [(30, 0.9), *((i, 0.1 + 0.001 * i) for i in range(1, 10))]  # BM25, on the answer
    assert max(convex([(flat, 0.8), (peaked, 0.2)]).items(), key=lambda kv: kv[1])[0] != 30
    fused = adaptive([(flat, 0.8), (peaked, 0.2)])
    assert max(fused.items(), key=lambda kv: kv[1])[0] == 30
    # The other way round: a sure dense half and a BM25 half matching only common words.
    sure = by_best([(7, 0.9), *((i, 0.3 - 0.001 * i) for i in range(10, 40))])
    noisy = [(i, 0.5 - 0.001 * i) for i in range(10, 40)]
    fused = adaptive([(sure, 0.8), (noisy, 0.2)])
    assert max(fused.items(), key=lambda kv: kv[1])[0] == 7
    assert standout(flat) < 2 < standout(sure)


def test_adaptive_fusion_keeps_the_set_weights_when_no_half_stands_out():
    flat = [(i, 1.0) for i in range(1, 6)]
    assert adaptive([(flat, 0.8), (flat, 0.2)]) == pytest.approx(convex([(flat, 0.8), (flat, 0.2)]))
    assert standout([(1, 0.4), (2, 0.3)]) == 0.0  # too short to say


FRENCH_QUESTION = "Est-ce que je peux vous donner les laptops dont je ne me sers plus ?"


def test_bm25_is_left_out_for_a_question_in_a_language_no_chunk_is_in(bot):
    """BM25 across languages matches only shared words (here "laptops"), so a surely French
    question over these English pages ranks as the dense half alone does; an English one keeps
    the set weights. Once a French page is stored, the French question keeps BM25 and, since
    the built-in English model cannot read French, hears both halves equally."""
    from chatforge.retrieve import Retriever

    retriever = Retriever(bot.store, bot.embedder, bot.settings.retrieve)
    r = bot.settings.retrieve
    r.dense = False
    assert bot.search(FRENCH_QUESTION, k=4)  # BM25 alone has something to say
    r.dense = True
    r.dense_weight, r.lexical_weight = 0.9, 0.1
    assert retriever.weights(FRENCH_QUESTION) == (0.9, 0.0)
    assert retriever.weights(QUESTION) == (0.9, 0.1)
    hybrid = [h.chunk_id for h in bot.search(FRENCH_QUESTION, k=4)]
    r.lexical = False
    assert hybrid == [h.chunk_id for h in bot.search(FRENCH_QUESTION, k=4)]
    r.lexical = True
    (Path("dons.md")).write_text(
        "# Dons de matériel\n\nNous acceptons volontiers les ordinateurs dont vous ne vous "
        "servez plus. Écrivez à l'équipe du matériel.\n",
        encoding="utf-8",
    )
    bot.ingest(["."])
    assert bot.embedder.languages == ("en",)
    assert retriever.weights(FRENCH_QUESTION) == pytest.approx((0.5, 0.5))
    assert retriever.weights(QUESTION) == (0.9, 0.1)
