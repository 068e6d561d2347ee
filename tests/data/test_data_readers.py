"""Each reader on a small file in its real format, and format detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasupport import FIXTURES

from chatforge.errors import ChatforgeError
from chatforge.formats import detect, read


def rows_of(path: Path, ctx, fmt: str | None = None) -> list:
    return list(read(path, path.name, fmt or detect(path), ctx))


def chats(rows) -> list[list[tuple[str, str]]]:
    return [[(m["role"], m["content"]) for m in r.messages] for r in rows if r.messages]


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("faq.md", "markdown"),
        ("guide.rst", "rst"),
        ("page.html", "html"),
        ("notes.txt", "text"),
        ("faq.csv", "csv"),
        ("faq.tsv", "tsv"),
        ("tickets.csv", "tickets"),
        ("tickets.jsonl", "tickets"),
        ("discord.json", "discord"),
        ("telegram.json", "telegram"),
        ("whatsapp.txt", "whatsapp"),
        ("tweets.js", "twitter"),
        ("alpaca.json", "alpaca"),
        ("sharegpt.jsonl", "sharegpt"),
        ("oasst.jsonl", "oasst"),
        ("oasst_trees.jsonl", "oasst"),
        ("ultrachat.jsonl", "ultrachat"),
        ("messages.jsonl", "messages"),
    ],
)
def test_detect(name: str, fmt: str) -> None:
    assert detect(FIXTURES / name) == fmt


def test_detect_unknown_json_names_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"foo": 1, "bar": 2}\n')
    with pytest.raises(ChatforgeError, match=r"keys bar, foo.*--format"):
        detect(p)


def test_markdown_text_blocks_and_faq_pairs(ctx) -> None:
    rows = rows_of(FIXTURES / "faq.md", ctx)
    texts = [r.text for r in rows if not r.messages]
    assert any("keeps notes in sync" in t for t in texts)
    pairs = chats(rows)
    assert [
        ("user", "How do I install the widget?"),
        (
            "assistant",
            "Run `apt install widget` on Debian or Ubuntu. On other systems, download the "
            "release archive\nand put the `widget` binary somewhere on your PATH.",
        ),
    ] in pairs
    assert [
        ("user", 'Why does sync say "permission denied"?'),
        (
            "assistant",
            "The notes folder is not writable by your user. Fix its owner with `chown -R`.",
        ),
    ] in pairs
    assert any(p[0] == ("user", "Can I sync over a proxy?") for p in pairs)
    # "Troubleshooting" is not a question: no pair for the heading itself
    assert not any(p[0][1] == "Troubleshooting" for p in pairs)
    # a passage and the question about it share a conversation, so they share a split side
    by_id = {r.conversation_id for r in rows if "apt install widget" in (r.text or "")}
    pair_ids = {
        r.conversation_id for r in rows if r.messages and "install" in r.messages[0]["content"]
    }
    assert by_id == pair_ids


def test_rst_html_and_text_documents(ctx) -> None:
    rst = rows_of(FIXTURES / "guide.rst", ctx)
    assert any("round button" in r.text for r in rst) and not chats(rst)
    html = rows_of(FIXTURES / "page.html", ctx)
    assert not any("Copyright" in r.text or "Home" in r.text for r in html)
    assert [
        ("user", "What is a sprocket?"),
        ("assistant", "A sprocket is a toothed wheel that meshes with a chain, as on a bicycle."),
    ] in chats(html)
    text = rows_of(FIXTURES / "notes.txt", ctx)
    assert len(text) == 1 and text[0].text.startswith("Sourdough starter notes")


def test_pdf_document(tmp_path: Path, ctx) -> None:
    from support import make_pdf

    pdf = make_pdf(["Bees dance to tell each other where the flowers are.", "Page two text."])
    p = tmp_path / "bees.pdf"
    p.write_bytes(pdf)
    assert detect(p) == "pdf"
    rows = rows_of(p, ctx)
    assert any("Bees dance" in r.text for r in rows)


def test_csv_sheet_detects_columns_and_skips_empty_answers(ctx) -> None:
    rows = rows_of(FIXTURES / "faq.csv", ctx)
    assert chats(rows)[0] == [
        ("user", "How do I reset my password?"),
        ("assistant", "Open Settings > Account and press Reset password."),
    ]
    assert len(rows) == 3
    assert [(s.line, s.reason) for s in ctx.skipped] == [(4, "a question or an answer is empty")]


def test_tsv_with_named_columns(ctx) -> None:
    ctx.qa_columns = ("Frage", "Antwort")
    rows = rows_of(FIXTURES / "faq.tsv", ctx)
    assert chats(rows)[0] == [
        ("user", "Wie spät ist es?"),
        ("assistant", "Schau auf die Uhr oben rechts."),
    ]


def test_excel_sheet(tmp_path: Path, ctx) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Question", "Answer"])
    sheet.append(["Is parking free?", "Yes, for the first two hours."])
    sheet.append([None, None])
    sheet.append(["Are dogs allowed?", "Only on a leash."])
    p = tmp_path / "faq.xlsx"
    book.save(p)
    assert detect(p) == "excel"
    rows = rows_of(p, ctx)
    assert chats(rows) == [
        [("user", "Is parking free?"), ("assistant", "Yes, for the first two hours.")],
        [("user", "Are dogs allowed?"), ("assistant", "Only on a leash.")],
    ]
    assert rows[1].source == "faq.xlsx:4"


def test_tickets_flat_and_nested(ctx) -> None:
    flat = chats(rows_of(FIXTURES / "tickets.csv", ctx))
    assert flat[0] == [
        ("user", "My order 1142 never arrived."),
        ("assistant", "Sorry about that! I have sent a replacement; it ships today."),
    ]
    assert len(flat) == 2
    nested = chats(rows_of(FIXTURES / "tickets.jsonl", ctx))
    assert nested[0][0] == (
        "user",
        "Printer offline\n\nThe office printer shows as offline since this morning.",
    )
    assert nested[0][1][0] == "assistant" and "Settings > Printers" in nested[0][1][1]


def test_discord_owner_sessions_and_markup(ctx) -> None:
    ctx.me = "jon"
    rows = rows_of(FIXTURES / "discord.json", ctx)
    assert chats(rows) == [
        [
            ("user", "anyone know a good glue for balsa wood?"),
            ("assistant", "wood glue works best\nCA glue if you are in a hurry :thumbsup:"),
            ("user", "thanks! and for paint?"),
            ("assistant", "acrylics, thin coats"),
        ],
        [("user", "what scale is your new plane?"), ("assistant", "1:48, it fits on the shelf")],
    ]
    assert [s.line for s in ctx.skipped] == [8]


def test_telegram_most_frequent_author_is_the_owner(ctx) -> None:
    said = []
    ctx.log = said.append
    rows = rows_of(FIXTURES / "telegram.json", ctx)
    assert any("'Alex'" in s for s in said)
    assert chats(rows) == [
        [
            ("user", "Did you get the recipe I sent?"),
            ("assistant", "Yes! The apple cake was great."),
        ],
        [
            ("user", "Are you coming on Sunday?"),
            ("assistant", "Yes, around noon.\nI will bring flowers."),
        ],
    ]


def test_whatsapp_continuations_media_and_sessions(ctx) -> None:
    ctx.me = "Tom"
    rows = rows_of(FIXTURES / "whatsapp.txt", ctx)
    assert chats(rows) == [
        [
            ("user", "Are we still on for climbing tomorrow?"),
            (
                "assistant",
                "Yes! 6pm at the usual gym.\nI'll bring the spare harness\nand the chalk bag.",
            ),
        ],
        [
            ("user", "How was the route you tried?"),
            ("assistant", "Hard, I fell twice on the overhang but finished it."),
        ],
    ]


def test_me_that_is_not_an_author(ctx) -> None:
    ctx.me = "Nobody"
    with pytest.raises(ChatforgeError, match=r"no author 'Nobody'; the authors are .*'Priya'"):
        rows_of(FIXTURES / "whatsapp.txt", ctx)


def test_twitter_replies_with_parents_and_tweets(ctx) -> None:
    rows = rows_of(FIXTURES / "tweets.js", ctx)
    assert chats(rows) == [
        [
            (
                "user",
                "Just finished reading a great book on the history of maps. Highly "
                "recommend it to anyone who likes geography.",
            ),
            ("assistant", "It is called 'On the Map' by Simon Garfield."),
        ]
    ]
    texts = [r.text for r in rows if not r.messages]
    assert "Which book? I want to read it too." in texts
    assert not any(t.startswith("RT @") for t in texts) and ctx.dropped["retweet"] == 1


def test_alpaca(ctx) -> None:
    rows = rows_of(FIXTURES / "alpaca.json", ctx)
    assert chats(rows)[1] == [
        ("user", "Translate to French.\n\nGood morning"),
        ("assistant", "Bonjour"),
    ]
    assert len(rows) == 3 and [s.line for s in ctx.skipped] == [4]


def test_sharegpt_skips_the_malformed_line(ctx) -> None:
    rows = rows_of(FIXTURES / "sharegpt.jsonl", ctx)
    assert chats(rows)[0] == [
        ("system", "You are terse."),
        ("user", "What is the capital of Peru?"),
        ("assistant", "Lima."),
    ]
    assert [r.conversation_id for r in rows] == [f"sharegpt.jsonl#s{i}" for i in (1, 2, 4)]
    assert len(ctx.skipped) == 1 and ctx.skipped[0].line == 3
    assert "malformed JSON" in ctx.skipped[0].reason


def test_oasst_best_ranked_path(ctx) -> None:
    flat = chats(rows_of(FIXTURES / "oasst.jsonl", ctx))
    assert flat[0] == [
        ("user", "How do plants make food?"),
        (
            "assistant",
            "They use photosynthesis: light, water and carbon dioxide become sugar and oxygen.",
        ),
        ("user", "Where does that happen?"),
        ("assistant", "Mostly in the leaves, inside chloroplasts."),
    ]
    assert flat[1] == [("user", "What is 2 + 2?"), ("assistant", "Four.")]
    trees = chats(rows_of(FIXTURES / "oasst_trees.jsonl", ctx))
    assert trees == [
        [
            ("user", "Suggest a name for a grey cat."),
            ("assistant", "Ash, after its colour."),
            ("user", "Another one?"),
            ("assistant", "Pebble."),
        ]
    ]


def test_ultrachat_and_openai_messages(ctx) -> None:
    ultra = chats(rows_of(FIXTURES / "ultrachat.jsonl", ctx))
    assert [r for r, _ in ultra[0]] == ["user", "assistant", "user", "assistant"]
    msgs = chats(rows_of(FIXTURES / "messages.jsonl", ctx))
    assert msgs[1][0] == ("user", "What is the boiling point of water at sea level?")
    # tool calls and tool results are left out
    assert msgs[2] == [("user", "Weather in Oslo?"), ("assistant", "It is 3 degrees in Oslo.")]


def test_hf_folder(tmp_path: Path, ctx) -> None:
    from datasets import Dataset, DatasetDict

    folder = tmp_path / "hfds"
    DatasetDict(
        {
            "train": Dataset.from_list(
                [
                    {
                        "messages": [
                            {"role": "user", "content": "Hi there"},
                            {"role": "assistant", "content": "Hello!"},
                        ],
                        "text": None,
                    }
                ]
            ),
            "test": Dataset.from_list(
                [{"messages": None, "text": "A plain paragraph of text about tides and the moon."}]
            ),
        }
    ).save_to_disk(str(folder))
    assert detect(folder) == "hf"
    rows = rows_of(folder, ctx)
    assert chats(rows) == [[("user", "Hi there"), ("assistant", "Hello!")]]
    assert [r.text for r in rows if not r.messages] == [
        "A plain paragraph of text about tides and the moon."
    ]


def test_forced_format_reads_an_odd_extension(tmp_path: Path, ctx) -> None:
    p = tmp_path / "README"
    p.write_text("# Title\n\n## What is this?\n\nA small project that counts sheep.\n")
    with pytest.raises(ChatforgeError, match="pass --format"):
        detect(p)
    rows = list(read(p, "README", "markdown", ctx))
    assert [
        ("user", "What is this?"),
        ("assistant", "A small project that counts sheep."),
    ] in chats(rows)


def test_record_numbers_in_a_json_array(tmp_path: Path, ctx) -> None:
    p = tmp_path / "a.json"
    p.write_text(json.dumps([{"instruction": "x", "output": "y"}, 5, {"instruction": "z"}]))
    rows = list(read(p, "a.json", "alpaca", ctx))
    assert len(rows) == 1 and [s.line for s in ctx.skipped] == [2, 3]
