"""Streaming benchmark: peak memory and MB/s of reading a large Posts.xml and Wikipedia dump.

Issue 25's target: a 1 GB StackExchange Posts.xml or Wikipedia pages-articles dump is read with
peak memory under 500 MB. This script generates realistic files of `--size-mb` (uncompressed)
in a cache folder, reused while their size matches:

- Posts.xml: questions and answers with HTML bodies (paragraphs, code, lists), tags in both
  dump spellings, scores, accepted answers, and some answers written before their question;
- a pages-articles dump (.xml, and the same as .xml.bz2 for `--bz2`): siteinfo with localized
  namespaces, articles in English and French with templates, refs, tables, files, sections,
  categories, plus redirects and talk pages that are skipped.

Each file is then read in a fresh subprocess (its own peak RSS, from getrusage) by:

- `prepare`: `chatforge data prepare`'s reading path (`formats.training.read`: rows of
  question/answer pairs, or article passages cut by the chunker with the embedder's tokenizer),
  rows counted and dropped. Cleaning, dedup and writing the dataset are left out: they hold
  the whole training set (and its MinHash index), whatever the reader does;
- `ingest`: the knowledge base's reading path (`formats.knowledge.iter_load` then the chunker,
  as `chatforge ingest` reads a file), chunks counted and dropped. Embedding is left out: on a
  CPU it runs far below the reader's speed (hours for 1 GB), and the pipeline stores a file's
  chunks in one transaction, so a whole dump is bounded by ingest.max_chunks_per_file, not here;
- `cli` (Posts.xml only): the real `chatforge data prepare --tag T` end to end, with a tag that
  keeps about 1% of questions, so the whole file is streamed (twice) but the training set stays
  small.

MB/s is the uncompressed file size over wall time. Run:

    .venv/bin/python bench/sources.py                 # 1024 MB each, every reader
    .venv/bin/python bench/sources.py --quick         # 32 MB, to try it
    .venv/bin/python bench/sources.py --size-mb 256 --formats posts --commands prepare ingest
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

from common import offline, peak_rss_mb, table

MB = 1024 * 1024
TARGET_MB = 500
RARE_TAG = "rare-tag"
WORDS = {
    "en": (
        "the install package server error config file user python build network disk memory "
        "update version cache query index table module test release driver kernel shell path "
        "thread process socket backup mirror proxy token account password window screen"
    ).split(),
    "fr": (
        "le la les un une serveur erreur fichier utilisateur paquet réseau disque mémoire "
        "mise jour version cache requête index table module essai pilote noyau chemin processus "
        "sauvegarde miroir compte mot passe fenêtre écran déjà très où être"
    ).split(),
}
TAGS = ["python", "linux", "networking", "sql", "git", "docker", "bash", "apt", "ssh", "debian"]


def sentence(rng: random.Random, lang: str) -> str:
    words = rng.choices(WORDS[lang], k=rng.randint(6, 18))
    return " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])


def paragraph(rng: random.Random, lang: str) -> str:
    return " ".join(sentence(rng, lang) for _ in range(rng.randint(2, 6)))


# ---------------------------------------------------------------------------- Posts.xml


def html_body(rng: random.Random, lang: str) -> str:
    parts = [f"<p>{escape(paragraph(rng, lang))}</p>" for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.4:
        parts.append(
            f"<pre><code>$ sudo apt install {rng.choice(TAGS)}\n"
            f"exit {rng.randint(0, 9)}\n</code></pre>"
        )
    if rng.random() < 0.3:
        items = "".join(f"<li>{escape(sentence(rng, lang))}</li>" for _ in range(3))
        parts.append(f"<ul>{items}</ul>")
    return "\n".join(parts)


def write_posts(path: Path, size: int, seed: int = 0) -> None:
    """Rows until `size` bytes: each question with 0-4 answers, one in 20 answers first."""
    rng = random.Random(seed)
    next_id = 1
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        while f.tell() < size:
            lang = "fr" if rng.random() < 0.3 else "en"
            qid, next_id = next_id, next_id + 1
            answers = []
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
                answers.append((next_id, rng.randint(-2, 40)))
                next_id += 1
            accepted = rng.choice(answers)[0] if answers and rng.random() < 0.6 else None
            tags = rng.sample(TAGS, rng.randint(1, 3)) + ([RARE_TAG] if rng.random() < 0.01 else [])
            spelled = (
                "".join(f"<{t}>" for t in tags) if rng.random() < 0.5 else f"|{'|'.join(tags)}|"
            )
            early = answers[:1] if answers and rng.random() < 0.05 else []
            for aid, score in early:
                _answer_row(f, rng, lang, aid, qid, score)
            attrs = {
                "Id": qid,
                "PostTypeId": 1,
                "Score": rng.randint(-3, 120),
                "Title": sentence(rng, lang).rstrip(".!"),
                "Tags": spelled,
                "Body": html_body(rng, lang),
                **({"AcceptedAnswerId": accepted} if accepted else {}),
            }
            _row(f, attrs)
            for aid, score in answers[len(early) :]:
                _answer_row(f, rng, lang, aid, qid, score)
        f.write("</posts>\n")


def _answer_row(f: TextIO, rng: random.Random, lang: str, aid: int, qid: int, score: int) -> None:
    _row(
        f,
        {"Id": aid, "PostTypeId": 2, "ParentId": qid, "Score": score, "Body": html_body(rng, lang)},
    )


def _row(f: TextIO, attrs: dict[str, Any]) -> None:
    f.write("  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items()) + " />\n")


# ---------------------------------------------------------------------------- Wikipedia dump


def wikitext(rng: random.Random, lang: str, title: str) -> str:
    cat, ref = ("Catégorie", "Lien web") if lang == "fr" else ("Category", "cite web")
    lines = [
        f"{{{{Infobox|name={title}|population={rng.randint(1000, 99999)}}}}}",
        f"'''{title}''' {paragraph(rng, lang)}"
        f"<ref>{{{{{ref}|url=https://example.org/{rng.randint(1, 9999)}}}}}</ref>",
        f"[[File:{title}.jpg|thumb|{sentence(rng, lang)}]]",
    ]
    for n in range(rng.randint(2, 6)):
        lines.append(f"== {sentence(rng, lang).rstrip('.?!')[:40]} ==")
        lines.append(
            f"{paragraph(rng, lang)} See [[{rng.choice(WORDS[lang])}|{rng.choice(WORDS[lang])}]]."
        )
        if n == 1:
            lines.append("=== Details ===\n" + paragraph(rng, lang) + '<ref name="a" />')
        if rng.random() < 0.3:
            rows = "\n|-\n".join(
                f"| {rng.randint(1900, 2024)} || {rng.randint(1, 10**6)}" for _ in range(4)
            )
            lines.append('{| class="wikitable"\n! Year !! Value\n|-\n' + rows + "\n|}")
    lines.append(f"[[{cat}:{rng.choice(WORDS[lang]).capitalize()}]]")
    return "\n".join(lines)


SITEINFO = """  <siteinfo><sitename>Wikipedia</sitename><namespaces>
    <namespace key="0" case="first-letter" /><namespace key="1" case="first-letter">Talk</namespace>
    <namespace key="6" case="first-letter">File</namespace>
    <namespace key="14" case="first-letter">Category</namespace>
  </namespaces></siteinfo>
"""


def write_dump(path: Path, size: int, seed: int = 0) -> None:
    """Pages until `size` bytes: one in ten a redirect, one in twenty a talk page."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n')
        f.write(SITEINFO)
        n = 0
        while f.tell() < size:
            n += 1
            lang = "fr" if rng.random() < 0.3 else "en"
            title = f"{sentence(rng, lang).rstrip('.?!')[:50]} {n}"
            ns, redirect, text = 0, "", wikitext(rng, lang, title)
            roll = rng.random()
            if roll < 0.1:
                redirect, text = f'<redirect title="Target {n}" />', f"#REDIRECT [[Target {n}]]"
            elif roll < 0.15:
                ns = 1
            f.write(
                f"  <page>\n    <title>{escape(title)}</title>\n"
                f"    <ns>{ns}</ns>\n    <id>{n}</id>\n"
                f'    {redirect}<revision><id>{n}</id><text bytes="{len(text)}" '
                f'xml:space="preserve">{escape(text)}</text></revision>\n  </page>\n'
            )
        f.write("</mediawiki>\n")


def compress(src: Path, dst: Path) -> None:
    with src.open("rb") as f, bz2.open(dst, "wb", compresslevel=6) as out:
        for block in iter(lambda: f.read(MB), b""):
            out.write(block)


# ---------------------------------------------------------------------------- measured children


def _chunker() -> Any:
    from chatforge.data.prepare import _chunker_factory

    return _chunker_factory(None, 512)()


def child_prepare(path: Path, fmt: str) -> dict[str, Any]:
    from chatforge.formats.rows import ReadContext
    from chatforge.formats.training import read

    chunker = _chunker()
    ctx = ReadContext(chunker=lambda: chunker)
    rows = chars = 0
    for row in read(path, path.name, fmt, ctx):
        rows += 1
        chars += len(row.text) or sum(len(m["content"]) for m in row.messages)
    return {"records": rows, "chars": chars, "skipped": len(ctx.skipped)}


def child_ingest(path: Path, _fmt: str) -> dict[str, Any]:
    from chatforge.formats.knowledge import LoadOptions, iter_load

    chunker = _chunker()
    docs = chunks = 0
    for doc in iter_load(path, path.name, LoadOptions()):
        docs += 1
        chunks += len(chunker.split(doc))
    return {"records": docs, "chunks": chunks}


def child_cli(path: Path, _fmt: str) -> dict[str, Any]:
    from chatforge.data.prepare import prepare

    with tempfile.TemporaryDirectory() as out:
        report = prepare([path], Path(out) / "ds", tags=[RARE_TAG])
    return {"records": report.kept}


CHILDREN: dict[str, Callable[[Path, str], dict[str, Any]]] = {
    "prepare": child_prepare,
    "ingest": child_ingest,
    "cli": child_cli,
}


def measure(command: str, path: Path, fmt: str, size: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", command, str(path), fmt],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{command} {path.name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(command=command, file=path.name, seconds=seconds, mb_s=size / MB / seconds)
    return result


def files(
    cache: Path, size_mb: int, formats: list[str], with_bz2: bool
) -> Iterator[tuple[str, Path]]:
    """(format, file) pairs, generated when missing or of another size."""
    size = size_mb * MB
    cache.mkdir(parents=True, exist_ok=True)
    makers = {
        "posts": ("Posts.xml", write_posts),
        "wikipedia": ("enwiki-pages-articles.xml", write_dump),
    }
    for fmt in formats:
        name, make = makers[fmt]
        path = cache / f"{size_mb}mb-{name}"
        if not path.exists() or abs(path.stat().st_size - size) > MB:
            t0 = time.perf_counter()
            make(path, size)
            print(f"generated {path} in {time.perf_counter() - t0:.0f}s", flush=True)
        yield ("stackexchange" if fmt == "posts" else "wikipedia"), path
        if fmt == "wikipedia" and with_bz2:
            packed = path.with_name(path.name + ".bz2")
            if not packed.exists() or packed.stat().st_mtime < path.stat().st_mtime:
                compress(path, packed)
            yield "wikipedia", packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="uncompressed size of each file")
    parser.add_argument("--quick", action="store_true", help="32 MB files, to try the bench")
    parser.add_argument(
        "--formats", nargs="+", default=["posts", "wikipedia"], choices=["posts", "wikipedia"]
    )
    parser.add_argument(
        "--commands", nargs="+", default=["prepare", "ingest", "cli"], choices=list(CHILDREN)
    )
    parser.add_argument("--bz2", action="store_true", help="also read the dump as .xml.bz2")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "chatforge-bench-sources"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    if args.child:
        command, path, fmt = args.child
        result = CHILDREN[command](Path(path), fmt)
        print(json.dumps({**result, "peak_mb": peak_rss_mb()}))
        return
    size_mb = 32 if args.quick else args.size_mb
    rows = []
    for fmt, path in files(args.cache, size_mb, args.formats, args.bz2):
        for command in args.commands:
            if command == "cli" and fmt != "stackexchange":
                continue
            r = measure(command, path, fmt, size_mb * MB)
            ok = "yes" if r["peak_mb"] < TARGET_MB else "NO"
            rows.append(
                [r["file"], command, r["records"], r["peak_mb"], r["mb_s"], r["seconds"], ok]
            )
            print(table(rows[-1:], HEADER), flush=True)
    print(f"\n{size_mb} MB files (uncompressed size; MB/s over it), target peak < {TARGET_MB} MB")
    print("embedding and the dataset's dedup/writing are not measured: see the docstring")
    print(table(rows, HEADER))


HEADER = ["file", "command", "records", "peak MB", "MB/s", "seconds", f"< {TARGET_MB} MB"]

if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
