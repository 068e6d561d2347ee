"""Documentation as training data: plain-text blocks, and question/answer pairs where the
text is FAQ-shaped (a heading that is a question, or "Q:"/"A:" lines).

Files are read by the same loaders as the knowledge base and cut by its chunker (handed in
through the read context), with the target model's tokenizer when one is given, so each text
block fits the training length.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats import wikipedia
from chatforge.formats.knowledge import load
from chatforge.formats.rows import ReadContext, Row, chat_messages
from chatforge.schema import Document, Section

_SUFFIX = {"markdown": ".md", "text": ".txt", "html": ".html", "pdf": ".pdf", "rst": ".rst"}
_QUESTION_LINE = re.compile(r"^\s*(?:Q|Question)\s*[:.)]\s*(.*)$", re.I)
_ANSWER_LINE = re.compile(r"^\s*(?:A|Answer)\s*[:.)]\s*(.*)$", re.I)
_HEADING_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|(?:\d+\.)+\d*\s+)")


def read_docs(path: Path, source: str, ctx: ReadContext, fmt: str | None = None) -> Iterator[Row]:
    """Text blocks of the document for continued pre-training, then its Q/A pairs."""
    documents = load(path, source, as_type=_SUFFIX.get(fmt or ""))
    for n, doc in enumerate(documents):
        tag = f"{source}#{doc.part or n}" if len(documents) > 1 else source
        yield from doc_text_rows(doc, tag, ctx)
        yield from faq_pairs(doc, tag)


def read_articles(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Passages of each Wikipedia article (of a dump or a dataset) for continued pre-training;
    the article's title leads its first passage and sections keep their headings."""
    for doc in wikipedia.articles(path, ctx.limit, functools.partial(ctx.skip, source)):
        yield from doc_text_rows(doc, f"{source}#{doc.title}", ctx)


def doc_text_rows(doc: Document, tag: str, ctx: ReadContext) -> Iterator[Row]:
    """The document cut by the read context's chunker into text rows, one id per section."""
    if ctx.chunker is None:
        raise ChatforgeError("documentation sources need a chunker")
    starts = [s.start for s in doc.sections]
    for chunk in ctx.chunker().split(doc):
        yield Row(_section_id(tag, starts, chunk.end - 1), f"{tag}@{chunk.start}", text=chunk.text)


def _section_id(tag: str, starts: list[int], offset: int) -> str:
    """One conversation id per section, shared by its text blocks and its Q/A pairs, so the
    split never puts a passage on one side and a question about it on the other."""
    i = bisect_right(starts, offset) - 1
    return f"{tag}§{starts[max(i, 0)] if starts else 0}"


def text_rows(text: str, cid: str, source: str, ctx: ReadContext) -> Iterator[Row]:
    """A long plain text cut into blocks that fit the training length."""
    doc = Document(source=source, text=text, title="", sections=[Section(0, len(text))])
    for row in doc_text_rows(doc, cid, ctx):
        row.source = source
        yield row


def faq_pairs(doc: Document, tag: str) -> Iterator[Row]:
    """Question/answer exchanges: headings that are questions, and Q:/A: lines."""
    for section in doc.sections:
        cid = f"{tag}§{section.start}"
        body = doc.text[section.start : section.end]
        heading = section.trail[-1].strip() if section.trail else ""
        if heading.endswith("?"):
            first, _, rest = body.partition("\n")
            answer = rest if heading in first else body
            question = _HEADING_MARKS.sub("", heading)
            if answer.strip() and not _QUESTION_LINE.match(answer.strip().split("\n")[0]):
                yield _pair(question, answer, cid, f"{tag}@{section.start}")
        yield from _qa_lines(body, section.start, tag, cid)


def _qa_lines(body: str, offset: int, tag: str, cid: str) -> Iterator[Row]:
    question: list[str] | None = None
    answer: list[str] | None = None
    start = 0
    pos = offset
    for line in body.split("\n"):
        q, a = _QUESTION_LINE.match(line), _ANSWER_LINE.match(line)
        if q:
            if question and answer:
                yield _pair("\n".join(question), "\n".join(answer), cid, f"{tag}@{start}")
            question, answer, start = [q[1]], None, pos
        elif a and question is not None and answer is None:
            answer = [a[1]]
        elif answer is not None:
            answer.append(line)
        elif question is not None:
            question.append(line)
        pos += len(line) + 1
    if question and answer:
        yield _pair("\n".join(question), "\n".join(answer), cid, f"{tag}@{start}")


def _pair(question: str, answer: str, cid: str, where: str) -> Row:
    return Row(cid, where, chat_messages([("user", question), ("assistant", answer)]))
