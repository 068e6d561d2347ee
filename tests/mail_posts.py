"""Email archives and a StackExchange Posts.xml in their real formats, written by the stdlib.

The mbox holds a support thread of three messages (a quoted reply, signatures, a PDF
attachment) and a French thread whose bodies are quoted-printable with accents; the Posts.xml
holds accepted and unaccepted answers, an answer before its question, tags in both the old and
new dump notation, and scores.
"""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import quoteattr

from support import make_pdf

CUSTOMER = "alice@example.com"
AGENT = "support@acme.example"
FRENCH_CUSTOMER = "elodie@exemple.fr"


def _message(
    sender: str, subject: str, body: str, mid: str, parents: tuple[str, ...] = (), **extra
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = extra.get("to", AGENT)
    msg["Subject"] = subject
    msg["Date"] = extra["date"]
    msg["Message-ID"] = f"<{mid}>"
    if parents:
        msg["In-Reply-To"] = f"<{parents[-1]}>"
        msg["References"] = " ".join(f"<{p}>" for p in parents)
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    return msg


def thread_messages() -> list[EmailMessage]:
    first = _message(
        f"Alice Martin <{CUSTOMER}>",
        "Printer offline",
        "My printer shows offline since the firmware update.\n"
        "How do I bring it back online?\n\n-- \nAlice Martin\nACME customer 555-0100\n",
        "m1@example.com",
        date="Mon, 03 Jun 2024 09:00:00 +0200",
    )
    first.add_attachment(
        make_pdf(["Printer report: error code E42 after firmware 3.1"]),
        maintype="application",
        subtype="pdf",
        filename="printer-report.pdf",
    )
    reply = _message(
        f"Bob <{AGENT}>",
        "Re: Printer offline",
        "Open Settings > Devices and press Reconnect; the E42 code clears after a restart.\n\n"
        f"On Mon, 3 Jun 2024 at 09:00, Alice Martin <\n{CUSTOMER}> wrote:\n"
        "> My printer shows offline since the firmware update.\n"
        "> How do I bring it back online?\n\n-- \nBob, ACME support\n",
        "m2@acme.example",
        ("m1@example.com",),
        to=CUSTOMER,
        date="Mon, 03 Jun 2024 10:00:00 +0200",
    )
    thanks = _message(
        f"Alice Martin <{CUSTOMER}>",
        "Re: Printer offline",
        "Thanks, the printer works again.\n\n> Open Settings > Devices and press Reconnect\n",
        "m3@example.com",
        ("m1@example.com", "m2@acme.example"),
        date="Mon, 03 Jun 2024 11:00:00 +0200",
    )
    question = _message(
        f"Élodie Dupont <{FRENCH_CUSTOMER}>",
        "Problème de facturation",
        "Bonjour, ma facture de juin est erronée : le montant dû est de 42 € au lieu de 24 €.\n"
        "Pouvez-vous la corriger ?\n\nCordialement,\nÉlodie\n",
        "f1@exemple.fr",
        date="Tue, 04 Jun 2024 09:00:00 +0200",
    )
    answer = _message(
        f"Bob <{AGENT}>",
        "RE: Problème de facturation",
        "Bonjour Élodie, nous avons corrigé la facture ; vous recevrez un avoir sous 48 heures.\n"
        "\nLe mar. 4 juin 2024 à 09:00, Élodie Dupont <elodie@exemple.fr> a écrit :\n"
        "> Bonjour, ma facture de juin est erronée\n\n-- \nBob, service client ACME\n",
        "f2@acme.example",
        ("f1@exemple.fr",),
        to=FRENCH_CUSTOMER,
        date="Tue, 04 Jun 2024 10:00:00 +0200",
    )
    return [first, reply, thanks, question, answer]


def write_mbox(path: Path, messages: list[EmailMessage] | None = None) -> Path:
    box = mailbox.mbox(str(path))
    for msg in messages or thread_messages():
        box.add(msg)
    box.flush()
    box.close()
    return path


def write_eml(path: Path) -> Path:
    """One French message, Latin-1 quoted-printable, with an HTML alternative and a note."""
    msg = EmailMessage()
    msg["From"] = f"Élodie Dupont <{FRENCH_CUSTOMER}>"
    msg["To"] = AGENT
    msg["Subject"] = "Accès refusé à l'espace client"
    msg["Date"] = "Wed, 05 Jun 2024 09:00:00 +0200"
    msg["Message-ID"] = "<e1@exemple.fr>"
    msg.set_content(
        "Je n'arrive plus à me connecter : « accès refusé » s'affiche après la mise à jour.\n",
        charset="iso-8859-1",
        cte="quoted-printable",
    )
    msg.add_alternative("<p>Je n'arrive plus à me connecter (HTML).</p>", subtype="html")
    msg.add_attachment(
        "# Étapes\n\nJ'ai vidé le cache du navigateur.\n".encode(),
        maintype="text",
        subtype="markdown",
        filename="étapes.md",
    )
    path.write_bytes(msg.as_bytes())
    return path


def _row(**attrs: object) -> str:
    return "  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items()) + " />"


POSTS = [
    # an answer before its question: the dump order is not guaranteed
    _row(
        Id=4, PostTypeId=2, ParentId=1, Score=12, Body="<p>Use <code>sorted(d.items())</code>.</p>"
    ),
    _row(
        Id=1,
        PostTypeId=1,
        AcceptedAnswerId=3,
        Score=25,
        Title="How do I sort a dictionary by key?",
        Body="<p>I have a <b>dict</b> and want its items in key order.</p>",
        Tags="<python><dictionary>",
    ),
    _row(
        Id=3,
        PostTypeId=2,
        ParentId=1,
        Score=9,
        Body="<p>Since Python 3.7 dicts keep order:</p>"
        "<pre><code>dict(sorted(d.items()))</code></pre>",
    ),
    _row(
        Id=5,
        PostTypeId=1,
        Score=7,
        Title="Comment lire un fichier CSV en Python ?",
        Body="<p>Je veux lire un fichier <em>CSV</em> accentué.</p>",
        Tags="|python|csv|",
    ),
    _row(Id=6, PostTypeId=2, ParentId=5, Score=2, Body="<p>Ouvrez-le avec encoding='latin-1'.</p>"),
    _row(
        Id=7, PostTypeId=2, ParentId=5, Score=5, Body="<p>Utilisez le module csv : csv.reader.</p>"
    ),
    _row(
        Id=8,
        PostTypeId=1,
        Score=-2,
        Title="Why is my JavaScript slow?",
        Body="<p>It is slow.</p>",
        Tags="<javascript>",
    ),
    _row(Id=9, PostTypeId=2, ParentId=8, Score=1, Body="<p>Profile it first.</p>"),
    _row(
        Id=10,
        PostTypeId=1,
        Score=3,
        Title="Unanswered?",
        Body="<p>No one replied.</p>",
        Tags="<python>",
    ),
]


def write_posts(path: Path, rows: list[str] | None = None) -> Path:
    body = "\n".join(POSTS if rows is None else rows)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{body}\n</posts>\n')
    return path
