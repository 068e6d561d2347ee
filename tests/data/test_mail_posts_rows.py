"""Email threads and StackExchange dumps as training pairs, through `read` and `data prepare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mail_posts import AGENT, CUSTOMER, write_eml, write_mbox, write_posts

from chatforge.data import load_prepared
from chatforge.data.prepare import prepare
from chatforge.errors import ChatforgeError
from chatforge.formats import detect, read
from chatforge.formats.rows import ReadContext


def _pairs(path: Path, ctx: ReadContext) -> list[tuple[str, str]]:
    rows = read(path, path.name, detect(path), ctx)
    return [(r.messages[0]["content"], r.messages[1]["content"]) for r in rows]


def _dataset_pairs(out: Path) -> list[tuple[str, str]]:
    data = load_prepared(out)
    rows = [*data["train"], *data["validation"]]
    return sorted((r["messages"][0]["content"], r["messages"][1]["content"]) for r in rows)


def test_support_thread_pairs_customer_and_agent(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "support.mbox")
    assert detect(mbox) == "email"
    pairs = _pairs(mbox, ReadContext())
    assert pairs == [
        (
            "Printer offline\n\nMy printer shows offline since the firmware update.\n"
            "How do I bring it back online?",
            "Open Settings > Devices and press Reconnect; the E42 code clears after a restart.",
        ),
        (
            "Problème de facturation\n\nBonjour, ma facture de juin est erronée : le montant dû "
            "est de 42 € au lieu de 24 €.\nPouvez-vous la corriger ?\n\nCordialement,\nÉlodie",
            "Bonjour Élodie, nous avons corrigé la facture ; vous recevrez un avoir sous "
            "48 heures.",
        ),
    ]  # the customer's "Thanks" answers nobody's question: no pair


def test_me_makes_a_personal_bot_of_my_replies(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "inbox.mbox")
    mine = _pairs(mbox, ReadContext(me=CUSTOMER.upper()))
    assert mine == [
        (
            "Open Settings > Devices and press Reconnect; the E42 code clears after a restart.",
            "Thanks, the printer works again.",
        )
    ]
    assert [a for _, a in _pairs(mbox, ReadContext(me="Bob"))][1].startswith("Bonjour Élodie")
    with pytest.raises(ChatforgeError, match=r"no message from 'nobody@x\.org'.*fix --me"):
        _pairs(mbox, ReadContext(me="nobody@x.org"))


def test_folder_of_eml_files_pairs_replies_across_files(tmp_path: Path, run_cli) -> None:
    from mail_posts import thread_messages

    folder = tmp_path / "mails"
    folder.mkdir()
    for n, msg in enumerate(thread_messages()):
        (folder / f"{n}.eml").write_bytes(msg.as_bytes())
    write_eml(folder / "accès.eml")
    assert detect(folder) == "email"
    out = tmp_path / "ds"
    code, stdout, err = run_cli("data", "prepare", str(folder), "--out", str(out), "--me", AGENT,
                                "--validation", "0", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["sources"] == [{"path": str(folder), "format": "email", "records": 2}]
    answers = [a for _, a in _dataset_pairs(out)]
    assert any(a.startswith("Open Settings > Devices") for a in answers)
    assert any("nous avons corrigé la facture" in a for a in answers)


def test_stackexchange_pairs_best_answer_with_filters(tmp_path: Path, run_cli) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    write_posts(dump / "Posts.xml")
    (dump / "Users.xml").write_text("<users><row Id='1' DisplayName='x' /></users>")
    out = tmp_path / "ds"
    options = ["--tag", "python", "--min-score", "3", "--validation", "0", "--json"]
    code, stdout, err = run_cli("data", "prepare", str(dump), "--out", str(out), *options)
    assert code == 0, err
    stats = json.loads(stdout)
    assert stats["sources"] == [{"path": str(dump), "format": "stackexchange", "records": 2}]
    assert stats["dropped"] == {"question without an answer": 1}
    assert _dataset_pairs(out) == [
        (
            "Comment lire un fichier CSV en Python ?\n\nJe veux lire un fichier CSV accentué.",
            "Utilisez le module csv : csv.reader.",  # the best-scored, none being accepted
        ),
        (
            "How do I sort a dictionary by key?\n\nI have a dict and want its items in key order.",
            # accepted, though scored below the answer that came before the question
            "Since Python 3.7 dicts keep order:\n\ndict(sorted(d.items()))",
        ),
    ]


def test_stackexchange_through_the_api(tmp_path: Path) -> None:
    posts = write_posts(tmp_path / "Posts.xml")
    report = prepare([posts], tmp_path / "ds", tags=["javascript"], validation=0)
    assert report.kept == 1 and report.sources[0]["format"] == "stackexchange"
    assert _dataset_pairs(tmp_path / "ds") == [
        ("Why is my JavaScript slow?\n\nIt is slow.", "Profile it first.")
    ]


def one_error_line(code: int, err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("name", "content", "needles"),
    [
        ("x.eml", b"Liste de courses\n- lait\n", ("x.eml: not an email message", "rename")),
        ("x.mbox", b"no mail here\n", ("x.mbox: no messages", "export the mailbox as mbox")),
        ("Posts.xml", b'<posts><row Id="1" PostTypeId="1" Title="x\n</posts>',
         ("Posts.xml: no question could be read (line 2: post 1 skipped: malformed XML",
          "download or extract Posts.xml again")),
        ("Posts.xml", b'<posts><row Id="2" PostTypeId="2" ParentId="1" /></posts>',
         ("Posts.xml: no questions",)),
    ],
)  # fmt: skip
def test_broken_sources_are_one_line_and_keep_the_dataset(
    tmp_path: Path, run_cli, name, content, needles
) -> None:
    out = tmp_path / "ds"
    write_posts(tmp_path / "good.xml")
    code, _, err = run_cli("data", "prepare", str(tmp_path / "good.xml"), "--out", str(out))
    assert code == 0, err
    before = _dataset_pairs(out)
    (tmp_path / name).write_bytes(content)
    code, _, err = run_cli("data", "prepare", str(tmp_path / name), "--out", str(out))
    one_error_line(code, err, *needles)
    assert _dataset_pairs(out) == before


def test_truncated_mbox_is_one_line(tmp_path: Path, run_cli) -> None:
    whole = write_mbox(tmp_path / "a.mbox").read_bytes()
    cut = whole[: whole.index(b"printer-report.pdf") + 300]
    (tmp_path / "cut.mbox").write_bytes(cut)
    code, _, err = run_cli("data", "prepare", str(tmp_path / "cut.mbox"), "--out", "ds")
    one_error_line(code, err, "cut.mbox: no message is whole",
                   "(the mbox ends inside message 1 (Printer offline)",
                   "copy or export the mailbox again")  # fmt: skip
