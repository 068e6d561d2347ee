"""Email and StackExchange files read for the knowledge base: `load` and `chatforge ingest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mail_posts import AGENT, CUSTOMER, write_eml, write_mbox, write_posts
from support import cli

from chatforge.errors import LoadError
from chatforge.formats import LoadOptions, load


def _by_part(path: Path, options: LoadOptions | None = None) -> dict:
    return {d.part: d for d in load(path, path.name, options)}


def test_mbox_messages_threads_and_attachment(tmp_path: Path) -> None:
    docs = _by_part(write_mbox(tmp_path / "archive.mbox"))
    assert list(docs) == [
        "m1@example.com",
        "m1@example.com/printer-report.pdf",
        "m2@acme.example",
        "m3@example.com",
        "f1@exemple.fr",
        "f2@acme.example",
    ]
    first, reply, thanks = docs["m1@example.com"], docs["m2@acme.example"], docs["m3@example.com"]
    assert first.title == "Printer offline" and first.meta["from"] == f"Alice Martin <{CUSTOMER}>"
    assert first.text.endswith("How do I bring it back online?")  # the signature is cut
    assert "555-0100" not in first.text
    # the reply keeps its own words only: no attribution line, quote or signature
    assert reply.text == (
        "Open Settings > Devices and press Reconnect; the E42 code clears after a restart."
    )
    assert reply.meta["in_reply_to"] == "m1@example.com" and reply.meta["from"] == f"Bob <{AGENT}>"
    assert {first.meta["thread"], reply.meta["thread"], thanks.meta["thread"]} == {"m1@example.com"}
    assert thanks.text == "Thanks, the printer works again."
    assert first.meta["attachments"] == ["printer-report.pdf"]
    pdf = docs["m1@example.com/printer-report.pdf"]
    assert "error code E42" in pdf.text and pdf.meta["message_id"] == "m1@example.com"
    assert all(d.source == "archive.mbox" for d in docs.values())
    for doc in docs.values():
        assert all(0 <= s.start < s.end <= len(doc.text) for s in doc.sections)


def test_french_quoted_printable_is_decoded(tmp_path: Path) -> None:
    docs = _by_part(write_mbox(tmp_path / "archive.mbox"))
    question, answer = docs["f1@exemple.fr"], docs["f2@acme.example"]
    assert question.title == "Problème de facturation"
    assert "le montant dû est de 42 € au lieu de 24 €" in question.text
    assert question.meta["from"] == "Élodie Dupont <elodie@exemple.fr>"
    # "Le ... a écrit :" and the quote under it are gone
    assert answer.text == (
        "Bonjour Élodie, nous avons corrigé la facture ; vous recevrez un avoir sous 48 heures."
    )
    assert answer.meta["thread"] == "f1@exemple.fr"


def test_eml_prefers_plain_text_and_reads_latin1_and_markdown_attachment(tmp_path: Path) -> None:
    docs = _by_part(write_eml(tmp_path / "accès.eml"))
    message = docs["e1@exemple.fr"]
    assert message.title == "Accès refusé à l'espace client"
    assert message.text.startswith("Je n'arrive plus à me connecter : « accès refusé »")
    assert "(HTML)" not in message.text
    attached = docs["e1@exemple.fr/étapes.md"]
    assert "J'ai vidé le cache" in attached.text and attached.meta["attachment"] == "étapes.md"


def test_html_only_message_drops_the_quote_below_the_attribution(tmp_path: Path) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["Message-ID"], msg["Subject"] = AGENT, "<h1@acme.example>", "Re: VPN"
    msg.set_content(
        "<html><body><p>Restart the <b>VPN</b> client.</p>"
        "<div class='gmail_quote'><p>On Tue, 4 Jun 2024, Alice wrote:</p>"
        "<blockquote><p>My VPN drops every hour.</p></blockquote></div></body></html>",
        subtype="html",
    )
    (tmp_path / "h.eml").write_bytes(msg.as_bytes())
    assert load(tmp_path / "h.eml", "h.eml")[0].text == "Restart the VPN client."


def test_posts_questions_with_their_answers(tmp_path: Path) -> None:
    docs = _by_part(write_posts(tmp_path / "Posts.xml"))
    assert list(docs) == ["question 1", "question 5", "question 8", "question 10"]
    sort = docs["question 1"]
    assert sort.title == "How do I sort a dictionary by key?"
    assert sort.meta == {"question_id": "1", "tags": ["python", "dictionary"], "score": 25,
                         "answers": 2}  # fmt: skip
    trails = [s.trail[0] for s in sort.sections]
    assert trails == ["Question", "Accepted answer (score 9)", "Answer (score 12)"]
    accepted = sort.sections[1]
    assert sort.text[accepted.start : accepted.end] == (
        "Since Python 3.7 dicts keep order:\n\ndict(sorted(d.items()))"
    )
    assert "<p>" not in sort.text and "I have a dict and want" in sort.text
    csv = docs["question 5"]  # French, tags in the newer "|a|b|" notation
    assert csv.meta["tags"] == ["python", "csv"]
    assert csv.text.startswith("Comment lire un fichier CSV en Python ?\n\nJe veux lire")


def test_posts_filters(tmp_path: Path) -> None:
    posts = write_posts(tmp_path / "Posts.xml")
    chosen = _by_part(posts, LoadOptions(tags=("CSV", "javascript"), min_score=3))
    assert list(chosen) == ["question 5"]
    answers = [s.trail[0] for s in chosen["question 5"].sections[1:]]
    assert answers == ["Answer (score 5)"]  # the answer scoring 2 is left out
    with pytest.raises(LoadError, match="none of its 4 questions has tag rust.*fix --tag"):
        load(posts, "Posts.xml", LoadOptions(tags=("rust",)))


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("x.eml", b"%PDF-1.4\n1 0 obj\n<< >>\n", "not an email message"),
        ("x.mbox", b"just some notes\nwithout any mail\n", "no messages"),
        ("Posts.xml", b'<posts>\n  <row Id="1" PostTypeId="1" Title="x\n</posts>', "line 3"),
        ("Posts.xml", b'<posts><row Id="2" PostTypeId="2" ParentId="1" /></posts>', "no questions"),
        ("Users.xml", b"<site><user Id='1' /></site>", "unsupported XML (root <site>)"),
    ],
)
def test_broken_files_are_one_line_load_errors(tmp_path, name, content, needle) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LoadError) as err:
        load(tmp_path / name, name)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_dump_tables_without_text_give_no_documents(tmp_path: Path) -> None:
    (tmp_path / "Users.xml").write_text("<users><row Id='1' DisplayName='x' /></users>")
    assert load(tmp_path / "Users.xml", "Users.xml") == []


def test_cli_ingest_search_and_broken_files_keep_what_is_stored(tmp_path: Path) -> None:
    write_mbox(tmp_path / "archive.mbox")
    dump = tmp_path / "dump"
    dump.mkdir()
    write_posts(dump / "Posts.xml")
    (dump / "Tags.xml").write_text("<tags><row Id='1' TagName='python' /></tags>")
    cli("init", "bot", cwd=tmp_path)
    out = cli("ingest", "archive.mbox", "dump", "--bot", "bot", "--tag", "python", "--min-score",
              "3", "--json", cwd=tmp_path).stdout  # fmt: skip
    report = json.loads(out)
    assert report["totals"]["ingested"] == 2 and report["totals"]["failed"] == 0
    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    parts = {(d["path"], d["part"]) for d in docs}
    assert ("archive.mbox", "m1@example.com/printer-report.pdf") in parts
    assert ("dump/Posts.xml", "question 10") in parts
    assert ("dump/Posts.xml", "question 8") not in parts  # javascript, score -2
    hits = json.loads(
        cli("search", "facture erronée montant", "--bot", "bot", "--json", cwd=tmp_path).stdout
    )
    assert hits[0]["source"] == "archive.mbox" and "42 €" in hits[0]["text"]

    # the archive is cut short and a non-mail file arrives: one line each, nothing stored is lost
    whole = (tmp_path / "archive.mbox").read_bytes()
    (tmp_path / "archive.mbox").write_bytes(whole[: whole.index(b"printer-report.pdf") + 300])
    (tmp_path / "notes.eml").write_text("Shopping list\n- milk\n")
    proc = cli("ingest", "archive.mbox", "notes.eml", "--bot", "bot", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("failed: archive.mbox: no message is whole (the mbox ends inside")
    assert "export the mailbox again" in lines[0]
    assert lines[1].startswith("failed: notes.eml: not an email message")
    after = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert {(d["path"], d["part"]) for d in after} == parts


def test_broken_message_and_unknown_charset_mid_mbox_are_said_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    """A message cut inside a MIME part is left out with a warning naming it; a body in an
    unknown charset is read from its bytes (here Latin-1 French) and said; the others stay."""
    write_mbox(tmp_path / "good.mbox")
    whole = (tmp_path / "good.mbox").read_bytes()
    second = whole.index(b"\nFrom ", 10) + 1
    broken = (
        b"From x@example.com Mon Jun  3 10:00:00 2024\nFrom: x@example.com\n"
        b"Subject: Scanner jam\nMessage-ID: <b1@example.com>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="zz"\n\n--zz\nContent-Type: text/plain\n\n'
        b"The scanner jams on page two.\n\n"
    )
    unknown = (
        b"From y@example.com Mon Jun  3 11:00:00 2024\nFrom: y@example.com\n"
        b"Subject: Recette\nMessage-ID: <c1@example.com>\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=x-unknown\nContent-Transfer-Encoding: 8bit\n\n"
        + "La crème brûlée de l'été dernier était délicieuse ; envoyez-moi la recette complète, "
        "s'il vous plaît.\n\n".encode("latin-1")
    )
    (tmp_path / "archive.mbox").write_bytes(whole[:second] + broken + unknown + whole[second:])
    cli("init", "bot", cwd=tmp_path)
    proc = cli("ingest", "archive.mbox", "--bot", "bot", "--json", cwd=tmp_path)
    assert json.loads(proc.stdout)["totals"]["ingested"] == 1
    warnings = proc.stderr.strip().splitlines()
    assert any("broken MIME part in message 2 (Scanner jam)" in w for w in warnings), warnings
    assert any("message 3 (Recette): unknown charset 'x-unknown', read as cp1252" in w
               for w in warnings), warnings  # fmt: skip
    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    parts = {d["part"] for d in docs if d["path"] == "archive.mbox"}
    assert "c1@example.com" in parts and "m2@acme.example" in parts
    assert "b1@example.com" not in parts
    hits = json.loads(cli("search", "recette crème brûlée", "--bot", "bot", "--json",
                          cwd=tmp_path).stdout)  # fmt: skip
    assert "crème brûlée de l'été" in hits[0]["text"]


def test_odd_rows_mid_posts_are_read_without_losing_the_others(tmp_path: Path) -> None:
    """Dumps carry rows a schema would refuse: a score that is not a number, an answer whose
    question was deleted, a question without a body or whose accepted answer is gone."""
    write_posts(tmp_path / "Posts.xml")
    text = (tmp_path / "Posts.xml").read_text(encoding="utf-8")
    second = text.index("<row", text.index("<row") + 4)
    odd = (
        '<row Id="99" PostTypeId="1" Score="abc" Title="Imprimante hors ligne" '
        'CreationDate="nope" />\n  '
        '<row Id="98" PostTypeId="2" ParentId="12345" Score="1" Body="&lt;p&gt;orphan&lt;/p&gt;" />'
        '\n  <row Id="97" PostTypeId="1" Score="2" Title="No body" AcceptedAnswerId="55" />\n  '
    )
    (tmp_path / "Posts.xml").write_text(text[:second] + odd + text[second:], encoding="utf-8")
    docs = _by_part(tmp_path / "Posts.xml")
    assert docs["question 99"].text == "Imprimante hors ligne"
    assert docs["question 97"].text == "No body"
    assert "orphan" not in " ".join(d.text for d in docs.values())
    assert {"question 1", "question 5", "question 8", "question 10"} <= set(docs)
