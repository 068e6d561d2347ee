"""A Twitter/X archive's tweets.js as training rows.

Replies to a tweet in the archive become exchanges, with the parent as the user's turn;
every other tweet becomes plain text in the owner's voice. Retweets are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats.rows import ReadContext, Row, chat_messages
from chatforge.formats.textio import head, read_text


def looks_like_twitter(path: Path) -> bool:
    """Whether a .js file is an archive's tweets file (it assigns to window.YTD)."""
    return head(path).lstrip().startswith("window.YTD.")


_LEADING_HANDLES = re.compile(r"^(?:@\w+\s+)+")


def read_twitter(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """An archive's tweets.js: replies to a tweet in the archive become exchanges, with the
    parent as the user's turn; every other tweet becomes plain text in the owner's voice."""
    raw = read_text(path)
    start = raw.find("=")
    if not raw.lstrip().startswith("window.YTD.") or start < 0:
        raise ChatforgeError(
            f"{source}: not a Twitter/X archive file (it should start 'window.YTD.tweets'); "
            "pass data/tweets.js from the archive"
        )
    try:
        items = json.loads(raw[start + 1 :])
    except json.JSONDecodeError as exc:
        raise ChatforgeError(f"{source}: the tweets are not valid JSON ({exc.msg})") from exc
    tweets: dict[str, dict] = {}
    order: list[str] = []
    for i, item in enumerate(items if isinstance(items, list) else [], start=1):
        tweet = item.get("tweet", item) if isinstance(item, dict) else None
        if not isinstance(tweet, dict) or not tweet.get("id_str") or "full_text" not in tweet:
            ctx.skip(source, i, "not a tweet with id_str and full_text (record number)")
            continue
        tweet["_n"] = i
        tweets[tweet["id_str"]] = tweet
        order.append(tweet["id_str"])
    if not tweets:
        raise ChatforgeError(f"{source}: no tweets with id_str and full_text in the archive")
    for tid in order:
        tweet = tweets[tid]
        text = _tweet_text(tweet)
        if text.startswith("RT @"):
            ctx.dropped["retweet"] += 1
            continue
        parent = tweets.get(str(tweet.get("in_reply_to_status_id_str") or ""))
        where = f"{source}#{tweet['_n']}"
        if parent is not None:
            messages = chat_messages([("user", _tweet_text(parent)), ("assistant", text)])
            yield Row(f"{source}#{tid}", where, messages)
        else:
            yield Row(f"{source}#{tid}", where, text=text)


def _tweet_text(tweet: dict) -> str:
    return _LEADING_HANDLES.sub("", str(tweet.get("full_text") or "")).strip()
