"""Answers, questions and their sources as HTML, safe to show whatever the model wrote.

Model output and document passages are untrusted. Markdown is rendered with markdown-it-py with
raw HTML off (any tag the model writes shows as text), images replaced by their alt text
(nothing remote is loaded) and unsafe link schemes refused; Gradio's own sanitizer then runs
over that HTML in the browser. Citation marks `[n]` become marks that open passage n.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def _citation_rule(state: StateInline, silent: bool) -> bool:
    """Parse `[1]` or `[1, 2]` as a citation token before the link rule sees it."""
    if state.src[state.pos] != "[":
        return False
    m = _CITE.match(state.src, state.pos)
    if m is None:
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"numbers": [int(n) for n in re.split(r"[,;]", m.group(1))]}
    state.pos = m.end()
    return True


def _render_citation(self: Any, tokens: Any, idx: int, options: Any, env: dict) -> str:
    marks = []
    for n in tokens[idx].meta["numbers"]:
        status = env.get("status", {}).get(n, "missing")
        title = {
            "verified": f"passage {n} supports this",
            "unverified": f"passage {n} does not support this sentence",
            "unchecked": f"passage {n}",
            "missing": f"no passage {n} was given",
        }.get(status, f"passage {n}")
        marks.append(f'<sup class="cf-cite cf-{status} cf-cite-{n}" title="{title}">[{n}]</sup>')
    return "".join(marks)


def _render_image(self: Any, tokens: Any, idx: int, options: Any, env: dict) -> str:
    alt = self.renderInlineAsText(tokens[idx].children or [], options, env)
    return (
        f'<span class="cf-image">[image not shown: {html.escape(alt or "no description")}]</span>'
    )


def _render_link_open(self: Any, tokens: Any, idx: int, options: Any, env: dict) -> str:
    token = tokens[idx]
    token.attrSet("rel", "nofollow noopener noreferrer")
    token.attrSet("target", "_blank")
    token.attrSet("title", token.attrGet("href") or "")
    return self.renderToken(tokens, idx, options, env)


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with tables; raw HTML shown as text, images never loaded, [n] as citations."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(
        ["table", "strikethrough"]
    )
    md.inline.ruler.before("link", "citation", _citation_rule)
    md.add_render_rule("citation", _render_citation)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_link_open)
    return md


def render_markdown(text: str, status: dict[int, str] | None = None) -> str:
    """Untrusted Markdown (an answer, a question) as safe HTML; see the module docstring."""
    return _markdown().render(text, {"status": status or {}})


def _status(source: dict[str, Any]) -> str:
    if not source.get("cited"):
        return "uncited"
    verified = source.get("verified")
    return "unchecked" if verified is None else "verified" if verified else "unverified"


_FLAGS = {
    "verified": "✓ supports the answer",
    "unverified": "⚠ unverified: the sentence citing it is not supported by this passage",
    "unchecked": "cited",
    "uncited": "not cited",
}


def render_sources(sources: Sequence[dict[str, Any]]) -> str:
    """The numbered passages under an answer, each opening to its text, flags on unverified."""
    if not sources:
        return ""
    items = []
    for s in sources:
        status = _status(s)
        title, section = s.get("title") or "", s.get("section") or ""
        where = section if section.startswith(title) else f"{title} › {section}".strip(" ›")
        path = html.escape(str(s.get("source", "")))
        span = f"characters {s['start']}–{s['end']}" if "start" in s and "end" in s else ""
        items.append(
            f'<details class="cf-source cf-{status} cf-source-{int(s["n"])}">'
            f'<summary><span class="cf-n">[{int(s["n"])}]</span> '
            f'<span class="cf-where">{html.escape(where or path)}</span> '
            f'<span class="cf-flag">{_FLAGS[status]}</span></summary>'
            f'<div class="cf-passage">{html.escape(str(s.get("text", "")))}</div>'
            f'<div class="cf-path">{path}{" · " + span if span else ""}</div>'
            "</details>"
        )
    return f'<div class="cf-sources">{"".join(items)}</div>'


def render_steps(steps: Sequence[dict[str, Any]]) -> str:
    """An agent's tool calls, folded: each call with its arguments, then its result."""
    if not steps:
        return ""
    items = "".join(
        f'<li class="cf-step{" cf-step-error" if st.get("error") else ""}">'
        f"<code>{html.escape(str(st['tool']))}"
        f"({html.escape(json.dumps(st.get('arguments', {}), ensure_ascii=False))})</code>"
        f'<div class="cf-result">{html.escape(str(st.get("result", "")))}</div></li>'
        for st in steps
    )
    label = f"{len(steps)} tool step{'s' if len(steps) > 1 else ''}"
    return f'<details class="cf-steps"><summary>{label}</summary><ol>{items}</ol></details>'


def render_answer(
    text: str,
    sources: Sequence[dict[str, Any]] = (),
    note: str = "",
    steps: Sequence[dict[str, Any]] = (),
) -> str:
    """An answer's HTML: an agent's steps folded, its sanitized Markdown with flagged [n]
    marks, then its sources."""
    status = {int(s["n"]): _status(s) for s in sources}
    body = render_markdown(text, status) if text else ""
    if note:
        body += f'<p class="cf-note">{html.escape(note)}</p>'
    return f'{render_steps(steps)}<div class="cf-answer">{body}</div>{render_sources(sources)}'
