"""Cleaning, PII scrubbing, duplicate removal and the split by conversation."""

from __future__ import annotations

from collections import Counter

import pytest

from chatforge.data.clean import clean_row, normalize, scrub_pii, strip_markup
from chatforge.data.dedup import dedup
from chatforge.data.split import split_ids
from chatforge.errors import ChatforgeError
from chatforge.formats.rows import Row


def chat(cid: str, *turns: tuple[str, str]) -> Row:
    return Row(cid, cid, [{"role": r, "content": c} for r, c in turns])


def test_normalize_unicode_controls_and_blank_lines() -> None:
    decomposed = "Cafe\u0301\u200b\r\n\r\n\r\n\r\nnext\x07 line  \n"
    assert normalize(decomposed) == "Café\n\nnext line"


def test_strip_markup_keeps_plain_text_alone() -> None:
    assert strip_markup("<p>Use <b>bold</b> &amp; <i>care</i><br>twice</p>") == (
        "Use bold & care\ntwice"
    )
    assert strip_markup("if a < b and c > d") == "if a < b and c > d"


def test_scrub_pii() -> None:
    text = (
        "Mail jane.doe@example.com or call +1 (555) 123-4567 or 030 1234567, see "
        "https://example.com/x?y=1 and ping @jane_doe. Meeting on 2024-03-01 at 10:30, "
        "version 3.11.2, order 1142."
    )
    assert scrub_pii(text) == (
        "Mail [EMAIL] or call [PHONE] or [PHONE], see [URL] and ping [HANDLE]. Meeting on "
        "2024-03-01 at 10:30, version 3.11.2, order 1142."
    )


def test_clean_row_drops_empty_short_and_too_long_turns() -> None:
    dropped: Counter[str] = Counter()
    row = chat(
        "c",
        ("assistant", "Hello, I start."),
        ("user", "Question one?"),
        ("assistant", "   "),
        ("assistant", "Answer one."),
        ("user", "k"),
        ("user", "Question two?"),
        ("assistant", "x" * 5000),
        ("user", "never seen"),
        ("assistant", "never kept"),
    )
    out = clean_row(row, pii=False, max_length=64, dropped=dropped)
    assert out is not None
    assert out.messages == [
        {"role": "user", "content": "Question one?"},
        {"role": "assistant", "content": "Answer one."},
    ]
    assert dropped == Counter({"empty turn": 1, "too-short turn": 1, "too-long turn": 1})


def test_clean_row_reasons_for_whole_rows() -> None:
    dropped: Counter[str] = Counter()
    assert clean_row(Row("a", "a", text="  \n "), pii=False, max_length=64, dropped=dropped) is None
    assert (
        clean_row(Row("b", "b", text="Chapter 2"), pii=False, max_length=64, dropped=dropped)
        is None
    )
    only_user = chat("c", ("user", "anyone there?"))
    assert clean_row(only_user, pii=False, max_length=64, dropped=dropped) is None
    assert dropped == Counter({"empty": 1, "too short": 1, "no exchange left": 1})


def test_clean_row_scrubs_pii_when_asked() -> None:
    row = chat("c", ("user", "my mail is a@b.org"), ("assistant", "Noted, a@b.org."))
    out = clean_row(row, pii=True, max_length=64, dropped=Counter())
    assert out is not None and "[EMAIL]" in out.messages[0]["content"]
    assert "a@b.org" not in str(out.messages)


def test_dedup_exact_and_near() -> None:
    base = (
        "The quick brown fox jumps over the lazy dog near the river bank while the farmer "
        "watches from his old wooden porch and drinks a cup of tea in the morning sun"
    )
    rows = [
        Row("1", "1", text=base),
        Row("2", "2", text=base.upper() + "  "),  # same words: exact after folding
        Row("3", "3", text=base.replace("tea", "coffee")),  # one word changed: near
        Row("4", "4", text="A completely different sentence about tides and the moon and stars."),
        chat("5", ("user", "hi"), ("assistant", "hello")),
        chat("6", ("user", "hi"), ("assistant", "hello")),
    ]
    dropped: Counter[str] = Counter()
    kept = [r.conversation_id for r in dedup(rows, dropped)]
    assert kept == ["1", "4", "5"]
    assert dropped == Counter({"duplicate": 2, "near duplicate": 1})


def test_a_question_answer_pair_is_not_a_duplicate_of_its_passage() -> None:
    answer = (
        "The bug fixes introduced in the unstable distribution trickle down to testing after "
        "a certain number of days, once no release-critical bugs are filed against them."
    )
    question = "How do fixes reach testing?"
    rows = [
        Row("s", "s@0", text=f"{question}\n\n{answer}"),
        chat("s", ("user", question), ("assistant", answer)),
    ]
    dropped: Counter[str] = Counter()
    assert len(list(dedup(rows, dropped))) == 2 and not dropped


def test_split_is_deterministic_and_by_conversation() -> None:
    ids = [f"conv-{i // 3}" for i in range(600)]  # 200 conversations of 3 rows each
    first = split_ids(ids, 0.1, seed=0)
    assert first == split_ids(list(reversed(ids)), 0.1, seed=0)
    assert first != split_ids(ids, 0.1, seed=1)
    assert 5 <= len(first) <= 40  # about 10% of 200
    # adding conversations never moves an existing one across
    grown = split_ids(ids + [f"new-{i}" for i in range(50)], 0.1, seed=0)
    assert {c for c in grown if c.startswith("conv-")} == first


def test_split_gives_both_sides_something() -> None:
    assert len(split_ids(["a", "b"], 0.1, seed=0)) == 1
    assert len(split_ids(["a", "b", "c"], 0.9, seed=0)) == 2
    assert split_ids(["a"], 0.0, seed=0) == set()


def test_too_small_to_split() -> None:
    with pytest.raises(ChatforgeError, match=r"only 1 conversation .*3 rows.*--validation 0"):
        split_ids(["a", "a", "a"], 0.1, seed=0)
