"""Agent tasks: chatforge's agent against LangChain's create_agent on the same model.

Both answer bench/data/agent_tasks.jsonl (one to three tool calls each: arithmetic over facts
in two documents, dates, remember-then-recall, filtered searches; English and French) over a
bot built from bench/data/agent_docs, with the same tools (chatforge.agent.tools, wrapped as
LangChain tools for the peer) and the same built-in model: chatforge decodes each step under a
grammar from the tools' schemas; the peer is the plain recipe, create_agent + ChatOpenAI on
`python -m llama_cpp.server` serving the same GGUF, without a grammar.

A task succeeds when the final answer states one of its expected values (a number as a whole
number). No expected result of a computation is a number the documents state, so an answer that
quotes a passage never passes for one. Printed per system:
task success, tool calls and the share valid against their schema, median steps and seconds
per task, and the success ratio chatforge / peer.

    python bench/agent.py [--limit N] [--model qwen]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DATA, offline, read_jsonl

PEER_PROMPT = "Use the tools to find facts and compute results, then answer briefly."


def build_bot(folder: Path, model: str) -> Any:
    from chatforge.bot import Bot

    bot = Bot(Bot.init(folder / "bot", "general").folder)
    bot.settings.llm.model = model
    bot.settings.agent.max_seconds = 600  # steps are bounded; a shared CPU is not a limit
    with contextlib.chdir(DATA / "agent_docs"):
        bot.ingest(["."])
    return bot


def succeeded(text: str, expect: list[str]) -> bool:
    """Whether `text` states one of the expected values: a number as a whole number of the
    text ("9" is not in "19" nor in "9.5"; "17.50" states "17.5"), a word or date as a word."""
    norm = text.lower().replace("\u202f", "").replace("\xa0", "")
    values = {float(n.replace(",", ".")) for n in re.findall(r"(?<![\d-])\d+(?:[.,]\d+)?", norm)}
    for e in expect:
        if re.fullmatch(r"\d+(?:\.\d+)?", e):
            if float(e) in values:
                return True
        elif re.search(rf"(?<!\w){re.escape(e.lower())}(?!\w)", norm):
            return True
    return False


def run_chatforge(bot: Any, task: dict[str, Any], user: str) -> dict[str, Any]:
    import jsonschema

    from chatforge.agent.loop import Agent, Step
    from chatforge.agent.tools import Toolbox

    schemas = {
        n: t.parameters for n, t in Toolbox(bot.chat, user).tools(bot.settings.agent.tools).items()
    }
    started = time.perf_counter()
    steps: list[Step] = []
    answer = None
    for question in [task.get("remember_first"), task["question"]]:
        if not question:
            continue
        for event in Agent(bot.chat).run(question, user):  # saved: facts are kept
            if isinstance(event, Step):
                steps.append(event)
            else:
                answer = event
    valid = 0
    for s in steps:
        try:
            jsonschema.validate(s.arguments, schemas[s.tool])
            valid += 1
        except (KeyError, jsonschema.ValidationError):
            pass
    return {
        "ok": succeeded(answer.text, task["expect"]),
        "calls": len(steps),
        "valid": valid,
        "steps": len(steps),
        "seconds": time.perf_counter() - started,
        "text": answer.text,
    }


def peer_tools(bot: Any, user: str) -> list[Any]:
    """The same tools, as LangChain tools the peer's agent calls."""
    from langchain_core.tools import StructuredTool

    from chatforge.agent.tools import Toolbox

    box = Toolbox(bot.chat, user)
    out = []
    for t in box.tools(bot.settings.agent.tools).values():

        def call(_tool=t, **kwargs: Any) -> str:
            try:
                return _tool.run(kwargs)
            except Exception as e:  # the error goes back to the model, as chatforge does
                return f"error: {e}"

        out.append(
            StructuredTool.from_function(
                func=call, name=t.name, description=t.description, args_schema=t.parameters
            )
        )
    return out


def run_peer(agent: Any, task: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    import jsonschema
    from langchain_core.messages import AIMessage

    started = time.perf_counter()
    messages: list[Any] = []
    calls = valid = steps = 0
    for question in [task.get("remember_first"), task["question"]]:
        if not question:
            continue
        try:
            state = agent.invoke(
                {"messages": [*messages, ("user", question)]}, {"recursion_limit": 12}
            )
            messages = state["messages"]
        except Exception as e:  # a recursion limit or a server error fails the task
            print(f"  peer task {task['id']}: {type(e).__name__}", file=sys.stderr)
    for m in messages:
        if isinstance(m, AIMessage):
            calls += len(m.tool_calls) + len(m.invalid_tool_calls)
            steps += len(m.tool_calls)
            for c in m.tool_calls:
                try:
                    jsonschema.validate(c["args"], schemas[c["name"]])
                    valid += 1
                except (KeyError, jsonschema.ValidationError):
                    pass
    final = messages[-1].content if messages and isinstance(messages[-1], AIMessage) else ""
    return {
        "ok": succeeded(str(final), task["expect"]),
        "calls": calls,
        "valid": valid,
        "steps": steps,
        "seconds": time.perf_counter() - started,
        "text": str(final),
    }


@contextlib.contextmanager
def llama_server(gguf: Path, n_ctx: int):
    """`python -m llama_cpp.server` on a free loopback port, as its docs start it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--n_ctx", str(n_ctx)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--host", "127.0.0.1", "--model_alias", "qwen"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def summary(name: str, rows: list[dict[str, Any]]) -> float:
    """One line of figures for one system; returns its task success."""
    n = len(rows)
    ok = sum(r["ok"] for r in rows) / n
    calls = sum(r["calls"] for r in rows)
    valid = sum(r["valid"] for r in rows)
    share = f"{valid / calls:.0%}" if calls else "n/a"
    print(
        f"{name:<28} success {ok:6.1%}  tool calls {calls:3d} (valid {share})  "
        f"median steps {statistics.median(r['steps'] for r in rows):.0f}  "
        f"median s/task {statistics.median(r['seconds'] for r in rows):.1f}"
    )
    return ok


def spread(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks taken in turn from each kind and language, so the first N cover them all."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in tasks:
        groups.setdefault((t["kind"], t["language"]), []).append(t)
    out: list[dict[str, Any]] = []
    while any(groups.values()):
        out += [g.pop(0) for g in groups.values() if g]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N tasks only")
    parser.add_argument("--model", default="qwen", help="built-in model (default qwen)")
    args = parser.parse_args()
    offline()
    from langchain.agents import create_agent
    from langchain_openai import ChatOpenAI

    from chatforge.llm import open_llm

    tasks = spread(read_jsonl(DATA / "agent_tasks.jsonl"))[: args.limit]
    tmp = Path(tempfile.mkdtemp(prefix="agentbench"))
    try:
        bot = build_bot(tmp, args.model)
        llm = open_llm(args.model, n_ctx=bot.settings.llm.n_ctx)
        gguf = llm.path
        ours, theirs = [], []
        with llama_server(gguf, bot.settings.llm.n_ctx) as url:
            model = ChatOpenAI(base_url=url, api_key="none", model="qwen", temperature=0)
            for i, task in enumerate(tasks):
                user = f"bench{i}"
                tools = peer_tools(bot, user)
                schemas = {t.name: t.args_schema for t in tools}
                agent = create_agent(model, tools, system_prompt=PEER_PROMPT)
                ours.append(run_chatforge(bot, task, user))
                theirs.append(run_peer(agent, task, schemas))
                if len(ours) > 1:  # the figures so far, in case the run is cut short
                    summary(f"  after {len(ours)}: chatforge", ours)
                    summary(f"  after {len(ours)}: peer", theirs)
                mark = ["no", "ok"]
                print(
                    f"task {task['id']:2d} [{task['language']} {task['kind']}] chatforge "
                    f"{mark[ours[-1]['ok']]} peer {mark[theirs[-1]['ok']]} | "
                    f"{ours[-1]['text'][:70]!r}",
                    flush=True,
                )
        print(f"\n{len(tasks)} tasks, model {args.model} ({gguf.name}), same tools, same bot")
        a = summary("chatforge agent (grammar)", ours)
        b = summary("create_agent + llama_cpp.server", theirs)
        print(f"success ratio chatforge / peer: {a / b:.1f}x" if b else "peer solved none")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
