"""Helpers the tests share: sample documents and running the real `chatforge` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOCS = {
    "guide/install.md": (
        "# Installing\n\nRun `apt install widget` to install the widget tool on Debian.\n\n"
        "## Removing\n\nTo uninstall it completely, use `apt purge widget`; this also deletes "
        "its configuration files.\n"
    ),
    "guide/network.md": (
        "# Networking\n\nThe widget daemon listens on port 7341 by default. Change the port in "
        "/etc/widget/widget.conf with the `port=` key and restart the service.\n"
    ),
    "notes/animals.txt": (
        "Zebras migrate across the Serengeti every year, following the rains and fresh grass.\n"
    ),
    "faq.csv": (
        "question,answer\n"
        "How do I reset my password?,Open Settings > Account and press Reset password.\n"
        "Can I export my data?,Yes: use File > Export to save everything as JSON.\n"
    ),
}


def write_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for rel, text in docs.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def bot_over(make_bot, root: Path, docs: dict[str, str], monkeypatch) -> object:
    """A bot (from the `make_bot` fixture) over `docs` written under root/corpus, ingested from
    there, the test staying in that folder so the stored sources are relative."""
    corpus = write_docs(root / "corpus", docs)
    monkeypatch.chdir(corpus)
    bot = make_bot()
    bot.ingest(["."])
    return bot


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = True):
    """Run the real `chatforge` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "chatforge", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"chatforge {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF with real text operators (Helvetica, one Tj per line) per page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = len(objects) + 1 + 2 * len(pages)
    kids = []
    for text in pages:
        lines = text.split("\n") if text else []
        escaped = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
        ops = ["BT /F1 12 Tf 14 TL 72 720 Td", *(f"({ln}) Tj T*" for ln in escaped), "ET"]
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)
            )
        )
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids)))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1 + bool(title), catalog)
    if title:
        trailer += b" /Info %d 0 R" % add(b"<< /Title (%s) >>" % title.encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n%s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def build_bot(root: Path, docs: dict[str, str], embedder: object, profile: str = "general") -> Path:
    """A bot folder at root/bot over `docs` written under root/corpus (sources stay relative)."""
    import contextlib

    from chatforge.bot import Bot

    for rel, text in docs.items():
        path = root / "corpus" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    bot = Bot(Bot.init(root / "bot", profile).folder, embedder=embedder)
    with contextlib.chdir(root / "corpus"):
        bot.ingest(["."])
    bot.close()
    return root / "bot"


def scripted_llm(real: object, reply: str | list[str]) -> object:
    """A chat model that writes `reply` whatever it is asked, tokenized and templated like `real`.

    For tests of what the engine does with one exact answer (an uncited destructive command, an
    answer no passage supports): no real model can be made to write it on demand. Everything
    else in the turn (retrieval, prompt budget, checks, storage) stays real. A list of replies
    is written one per call, in turn; `seen` keeps the messages of the last call.
    """
    import itertools

    from chatforge.llm.base import LLM, Generation

    replies = itertools.cycle([reply] if isinstance(reply, str) else reply)

    class ScriptedLLM(LLM):
        name = f"scripted:{real.name}"
        context_window = real.context_window
        seen: list = []

        def count_tokens(self, text):
            return real.count_tokens(text)

        def format_chat(self, messages):
            return real.format_chat(messages)

        def _generate(self, messages, options):
            self.seen = list(messages)
            text = next(replies)
            pieces = [w + " " for w in text.split(" ")]
            yield from pieces
            return Generation(text, self.count_chat_tokens(messages), len(pieces), "stop")

    return ScriptedLLM()
