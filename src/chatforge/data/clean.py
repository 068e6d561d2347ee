"""Cleaning: Unicode normalization, markup stripped, length filters and optional PII scrubbing.

`clean_row` returns the cleaned row, or the reason it was dropped; the pipeline counts the
reasons in stats.json.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections import Counter

from chatforge.formats.rows import Row, chat_messages
from chatforge.formats.textio import normalize_newlines

MIN_TURN_CHARS = 2  # "ok" is a fine reply in a chat; "" or "k" teaches nothing
MIN_TEXT_WORDS = 8  # a text block shorter than a sentence is a stray heading or footer
CHARS_PER_TOKEN = 8  # a turn longer than max_length * this cannot fit, whatever the tokenizer

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\u202a-\u202e\ufeff]")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING = re.compile(r"[ \t]+\n")

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_HANDLE = re.compile(r"(?<![\w@/.])@[A-Za-z0-9_]{2,30}\b")
# International (+...) or grouped numbers of 7 to 15 digits; dates and times do not match
# because their groups are joined by "-", "/" or ":" in 4-2-2 or 2-2-4 shapes, checked below.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{5,16}\d(?!\w)"
)
_DATE_LIKE = re.compile(r"^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$|^\d+\.\d+(?:\.\d+)*$")


def normalize(text: str) -> str:
    """NFC Unicode, no control or direction marks, Unix newlines, no runs of blank lines."""
    text = unicodedata.normalize("NFC", normalize_newlines(text))
    text = _CONTROL.sub("", text)
    text = _TRAILING.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def strip_markup(text: str) -> str:
    """Plain text of HTML fragments (tags and entities), left alone when there are none."""
    if not _HTML_TAG.search(text) and "&" not in text:
        return text
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    return soup.get_text()


def scrub_pii(text: str) -> str:
    """Emails, URLs, phone numbers and @handles replaced by [EMAIL], [URL], [PHONE], [HANDLE]."""
    text = _URL.sub("[URL]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _HANDLE.sub("[HANDLE]", text)
    return _PHONE.sub(_phone, text)


def _phone(m: re.Match[str]) -> str:
    raw = m.group(0)
    digits = sum(c.isdigit() for c in raw)
    if not 7 <= digits <= 15 or _DATE_LIKE.match(raw.strip()):
        return raw
    if not (raw.startswith(("+", "(")) or re.search(r"[\s.-]", raw)) and digits < 10:
        return raw  # a bare run of digits: an id or an amount, not a number to call
    return "[PHONE]"


def clean_text(text: str, pii: bool, markup: bool = True) -> str:
    """Normalized text; HTML fragments stripped when `markup` says the source may hold them."""
    text = normalize(strip_markup(normalize(text)) if markup else text)
    return scrub_pii(text) if pii else text


def clean_row(
    row: Row, *, pii: bool, max_length: int, dropped: Counter[str], markup: bool = True
) -> Row | None:
    """The row cleaned, or None with the reason counted in `dropped`. `markup=False` for rows
    read as plain text, where `<int>` is code, not a tag."""
    max_chars = max_length * CHARS_PER_TOKEN
    if not row.messages:
        row.text = clean_text(row.text, pii, markup)
        if not row.text:
            dropped["empty"] += 1
            return None
        if len(re.findall(r"\w+", row.text)) < MIN_TEXT_WORDS:
            dropped["too short"] += 1
            return None
        return row
    turns = []
    for m in row.messages:
        content = clean_text(m["content"], pii, markup)
        if not content:
            dropped["empty turn"] += 1
            continue
        if m["role"] != "system" and len(content) < MIN_TURN_CHARS:
            dropped["too-short turn"] += 1
            continue
        if len(content) > max_chars:
            dropped["too-long turn"] += 1
            break  # what follows a turn that cannot fit has lost its context
        turns.append((m["role"], content))
    messages = chat_messages(turns)
    first = next((i for i, m in enumerate(messages) if m["role"] == "user"), len(messages))
    messages = [m for m in messages[:first] if m["role"] == "system"] + messages[first:]
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()
    if not any(m["role"] == "user" for m in messages):
        dropped["no exchange left"] += 1
        return None
    row.messages = messages
    return row
