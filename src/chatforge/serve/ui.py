"""The web UI: a Gradio app mounted at `/` of the FastAPI server.

A thin shell over the server's parts: every answer goes through `app.state.runner` (one model,
one worker thread), uploads through `app.state.jobs`, and lists come straight from the bot's
stores, always for the signed-in user. With no `server.api_keys` the user is "local"; with keys,
the page asks for one key and uses that key's user (admin keys may also add documents).

Model output and document passages are untrusted. Answers are rendered to HTML here with
markdown-it-py with raw HTML off (any tag the model writes shows as text), images replaced by
their alt text (nothing remote is loaded) and unsafe link schemes refused; Gradio's own
sanitizer then runs over that HTML in the browser.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from fastapi import UploadFile
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

from chatforge.chat.answer import Answer
from chatforge.errors import ChatforgeError
from chatforge.serve.auth import LOCAL_USER, KeyRing, Principal
from chatforge.serve.errors import ApiError
from chatforge.serve.limits import safe_filename
from chatforge.serve.native import _store_files, upload_dir

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatforge.bot import Bot

STATIC = Path(__file__).parent / "static"
_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_FINISHED = ("done", "failed")


# ---- rendering -------------------------------------------------------------------------------


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


def render_answer(text: str, sources: Sequence[dict[str, Any]] = (), note: str = "") -> str:
    """An answer's HTML: its sanitized Markdown with flagged [n] marks, then its sources."""
    status = {int(s["n"]): _status(s) for s in sources}
    body = render_markdown(text, status) if text else ""
    if note:
        body += f'<p class="cf-note">{html.escape(note)}</p>'
    return f'<div class="cf-answer">{body}</div>{render_sources(sources)}'


# ---- the app ---------------------------------------------------------------------------------


def _head() -> str:
    css = (STATIC / "ui.css").read_text(encoding="utf-8")
    js = (STATIC / "ui.js").read_text(encoding="utf-8")
    return f"<style>{css}</style><script>{js}</script>"


def _shown_path(bot: Bot, path: str) -> str:
    """A document's path; absolute ones inside the bot folder (uploads) relative to it."""
    p = Path(path)
    if p.is_absolute() and p.is_relative_to(bot.folder.resolve()):
        return str(p.relative_to(bot.folder.resolve()))
    return path


def _header(bot: Bot) -> str:
    s = bot.settings
    model = Path(s.llm.model).name if not s.llm.model.startswith("http") else s.llm.model
    parts = [
        ("bot", bot.folder.resolve().name),
        ("model", model),
        (
            "answers",
            {"generate": "written by the model", "extractive": "quoted passages"}.get(
                s.chat.mode, "quoted or written, by model size (auto)"
            ),
        ),
        ("embeddings", Path(s.embed.model).name),
    ]
    facts = "".join(f'<span class="cf-fact"><b>{k}</b> {html.escape(v)}</span>' for k, v in parts)
    return f'<div class="cf-header"><span class="cf-brand">chatforge</span>{facts}</div>'


def build_ui(app: FastAPI) -> gr.Blocks:
    """The chat page over `app.state` (bot, runner, jobs, settings); see the module docstring."""
    bot: Bot = app.state.bot
    keyring: KeyRing = app.state.keys
    keys = not keyring.local_only

    def conversations(user: str | None) -> dict:
        if not user:
            return gr.update(choices=[], value=None)
        items = bot.conversations.list(user)
        return gr.update(choices=[(c.title, c.id) for c in items])

    def memories(user: str | None) -> dict:
        items = bot.memory.list(user) if user else []
        return gr.update(choices=[(f"{m.kind}: {m.text}", m.id) for m in items], value=[])

    def shown(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**s, "source": _shown_path(bot, str(s.get("source", "")))} for s in sources]

    def documents() -> list[list[Any]]:
        return [[_shown_path(bot, d.path), d.title, d.chunks] for d in bot.sources()]

    def who(user: str | None, admin: bool) -> str:
        if not user:
            return ""
        if not keys:
            return f"Local mode · user **{user}**"
        return f"Signed in as **{user}**" + (" (admin)" if admin else "")

    def load_all(user: str | None, admin: bool) -> tuple:
        return who(user, admin), conversations(user), memories(user), documents()

    with gr.Blocks(title="chatforge", fill_width=True) as ui:
        user = gr.State(None if keys else LOCAL_USER)
        admin = gr.State(not keys)
        conversation = gr.State(None)

        gr.HTML(_header(bot), head=_head(), js_on_load=None, elem_id="cf-header")
        with gr.Row(visible=bool(keys), elem_id="cf-login") as login:
            key = gr.Textbox(label="API key", type="password", placeholder="your key", scale=3)
            sign_in = gr.Button("Sign in", variant="primary", scale=1)
            login_msg = gr.Markdown()
        with gr.Row(visible=not keys, equal_height=False) as main:
            with gr.Column(scale=1, min_width=220, elem_id="cf-conversations"):
                whoami = gr.Markdown(elem_id="cf-whoami")
                new = gr.Button("New conversation", variant="primary", size="sm")
                conv_list = gr.Radio(label="Conversations", choices=[], elem_id="cf-conv-list")
                delete = gr.Button("Delete conversation", variant="stop", size="sm")
            with gr.Column(scale=3, min_width=420):
                chat = gr.Chatbot(
                    show_label=False,
                    buttons=["copy", "copy_all"],
                    height="68vh",
                    render_markdown=False,
                    sanitize_html=True,
                    feedback_options=None,
                    placeholder="Ask about your documents. Answers cite their sources as [n]: "
                    "click one to read the passage.",
                    elem_id="cf-chat",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question",
                        scale=5,
                        lines=1,
                        elem_id="cf-question",
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="cf-send")
            with gr.Column(scale=2, min_width=300), gr.Tabs():
                with gr.Tab("Documents", elem_id="cf-docs-tab"):
                    upload = gr.File(
                        label="Add documents",
                        file_count="multiple",
                        file_types=list(app.state.settings.server.upload_types),
                        height=140,
                        elem_id="cf-upload",
                    )
                    job_status = gr.Markdown(elem_id="cf-job")
                    docs = gr.Dataframe(
                        headers=["source", "title", "chunks"],
                        label="Sources",
                        interactive=False,
                        wrap=True,
                        column_widths=["45%", "40%", "15%"],
                        max_height=420,
                        show_search="search",
                        elem_id="cf-docs",
                    )
                with gr.Tab("Memory", elem_id="cf-memory-tab"):
                    gr.Markdown("What the bot remembers about you, recalled into its answers.")
                    memory = gr.CheckboxGroup(label="Memories", choices=[], elem_id="cf-memory")
                    with gr.Row():
                        forget = gr.Button("Delete selected", variant="stop", size="sm")
                        refresh = gr.Button("Refresh", size="sm")

        lists = [whoami, conv_list, memory, docs]

        def do_sign_in(given: str) -> tuple:
            try:
                found: Principal = keyring.authenticate((given or "").strip())
            except ApiError:
                skip = [gr.skip()] * len(lists)
                return (
                    None,
                    False,
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    "That key is not valid.",
                    "",
                    *skip,
                )
            name, is_admin = found.user, found.admin
            return (
                name,
                is_admin,
                gr.update(visible=False),
                gr.update(visible=True),
                gr.update(visible=is_admin),
                "",
                "",
                *load_all(name, is_admin),
            )

        sign_in_event = dict(
            fn=do_sign_in,
            inputs=[key],
            outputs=[user, admin, login, main, upload, login_msg, key, *lists],
        )
        sign_in.click(**sign_in_event)
        key.submit(**sign_in_event)
        ui.load(load_all, [user, admin], lists)

        async def respond(
            text: str, history: list[dict], conv_id: str | None, name: str | None
        ) -> AsyncIterator[tuple]:
            if not name:
                yield gr.skip(), history, conv_id, gr.skip(), gr.skip()
                return
            if not text or not text.strip():
                yield "", history, conv_id, gr.skip(), gr.skip()
                return
            history = [
                *history,
                {"role": "user", "content": render_markdown(text)},
                {"role": "assistant", "content": render_answer("", note="Searching…")},
            ]
            yield "", history, conv_id, gr.skip(), gr.skip()
            try:
                stream = await app.state.runner.stream(text, user=name, conversation_id=conv_id)
            except ChatforgeError as e:
                history[-1]["content"] = render_answer("", note=f"error: {e}")
                yield "", history, conv_id, gr.skip(), gr.skip()
                return
            pieces: list[str] = []
            async with aclosing(stream):
                async for item in stream:
                    if isinstance(item, Answer):
                        note = "(interrupted)" if item.interrupted else ""
                        sources = [s.to_dict() for s in item.sources]
                        history[-1]["content"] = render_answer(item.text, shown(sources), note)
                        conv_id = item.conversation_id
                    else:
                        pieces.append(item)
                        history[-1]["content"] = render_answer("".join(pieces))
                    yield "", history, conv_id, gr.skip(), gr.skip()
            current = conversations(name)
            yield "", history, conv_id, {**current, "value": conv_id}, memories(name)

        ask_event = dict(
            fn=respond,
            inputs=[question, chat, conversation, user],
            outputs=[question, chat, conversation, conv_list, memory],
        )
        send.click(**ask_event)
        question.submit(**ask_event)

        def resume(conv_id: str | None, name: str | None) -> tuple:
            if not conv_id or not name:
                return [], None
            history = []
            for m in bot.conversations.messages(conv_id, name):
                if m.role == "user":
                    history.append({"role": "user", "content": render_markdown(m.text)})
                else:
                    note = "(interrupted)" if m.interrupted else ""
                    content = render_answer(m.text, shown(m.sources), note)
                    history.append({"role": "assistant", "content": content})
            return history, conv_id

        conv_list.input(resume, [conv_list, user], [chat, conversation])

        def start_new() -> tuple:
            return [], None, gr.update(value=None)

        new.click(start_new, None, [chat, conversation, conv_list])
        chat.clear(start_new, None, [chat, conversation, conv_list])

        def delete_conversation(conv_id: str | None, name: str | None) -> tuple:
            if conv_id and name:
                bot.conversations.delete(conv_id, name)
            return [], None, {**conversations(name), "value": None}

        delete.click(delete_conversation, [conversation, user], [chat, conversation, conv_list])

        def forget_memories(ids: list[int], name: str | None) -> dict:
            for memory_id in ids or []:
                bot.memory.delete(name, int(memory_id))
            return memories(name)

        forget.click(forget_memories, [memory, user], [memory])
        refresh.click(memories, [user], [memory])

        def store_uploads(files: list[Path], name: str) -> list[Path]:
            """Name, check and keep the files exactly as the upload API does."""
            server = app.state.settings.server
            names = [safe_filename(f.name, server.upload_types) for f in files]
            if len(set(names)) != len(names):
                raise ApiError(400, "two uploaded files have the same name; rename one")
            uploads = [
                UploadFile(f.open("rb"), filename=n) for f, n in zip(files, names, strict=True)
            ]
            try:
                limit = int(server.max_upload_mb * 1024 * 1024)
                return _store_files(uploads, names, upload_dir(bot, name), limit)
            finally:
                for u in uploads:
                    u.file.close()

        async def add_documents(
            files: list[str] | None, name: str | None, is_admin: bool
        ) -> AsyncIterator[tuple]:
            if not files:
                yield gr.skip(), gr.skip(), gr.skip()
                return
            if not name or not is_admin:
                yield "Only an admin key may add documents.", gr.skip(), None
                return
            try:
                paths = await asyncio.to_thread(store_uploads, [Path(f) for f in files], name)
            except ApiError as e:
                yield f"✗ {e.message}", gr.skip(), None
                return
            label = ", ".join(p.name for p in paths)
            job = app.state.jobs.submit(paths, name)
            while True:
                job = app.state.jobs.get(job.id)
                if job.status in _FINISHED:
                    break
                message = f" · {job.message}" if job.message else ""
                yield f"⏳ {label}: {job.status} {job.progress:.0%}{message}", gr.skip(), gr.skip()
                await asyncio.sleep(0.25)
            if job.status == "failed":
                yield f"✗ {label}: {job.message}", documents(), None
            else:
                yield f"✓ {label}: {job.message or 'added'}", documents(), None

        upload.upload(add_documents, [upload, user, admin], [job_status, docs, upload])

    return ui
