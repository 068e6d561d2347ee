"""The shape of the source: imports between top-level parts go one way, modules and functions
stay short.

Every module under src/chatforge is parsed (not imported), so an import inside a function or
under ``TYPE_CHECKING`` counts like one at the top: either can close a cycle that bites the day
it runs. A module belongs to its top-level part: ``chatforge/chat/engine.py`` to ``chat``,
``chatforge/bot.py`` to ``bot``, ``chatforge/__init__.py`` to ``chatforge``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import chatforge

SRC = Path(chatforge.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

# Imports allowed to close a cycle: (importing part, imported part). None.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()

# Modules allowed over MAX_MODULE_LINES (paths relative to src/chatforge). None.
KNOWN_LONG_MODULES: set[str] = set()

# Functions allowed over MAX_FUNCTION_LINES ("path::Class.function"). None.
KNOWN_LONG_FUNCTIONS: set[str] = set()


def modules() -> dict[str, ast.Module]:
    """Each module's path relative to src/chatforge, parsed."""
    return {
        path.relative_to(SRC).as_posix(): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(SRC.rglob("*.py"))
    }


def unit_of(module: str) -> str:
    """The top-level part of a dotted module name under chatforge, e.g. chatforge.chat.x -> chat."""
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else "chatforge"


def package_of(rel: str) -> list[str]:
    """The dotted package a module file sits in, e.g. chat/engine.py -> [chatforge, chat]."""
    return ["chatforge", *Path(rel).parent.parts]


def imported_units(rel: str, tree: ast.Module, units: set[str]) -> dict[str, int]:
    """The parts ``rel`` imports (anywhere in the file), each with the first line that does."""
    found: dict[str, int] = {}

    def add(module: str, line: int) -> None:
        if module == "chatforge" or module.startswith("chatforge."):
            found.setdefault(unit_of(module), line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(rel)[: len(package_of(rel)) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "chatforge":  # from chatforge import chat, bot: each name is a part
                for alias in node.names:
                    add(f"chatforge.{alias.name}" if alias.name in units else module, node.lineno)
            else:
                add(module, node.lineno)
    return found


def unit_graph() -> dict[str, dict[str, str]]:
    """part -> {imported part: "file:line" of the first such import}."""
    parsed = modules()
    units = {unit_of("chatforge." + rel.removesuffix(".py").replace("/", ".")) for rel in parsed}
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for rel, tree in parsed.items():
        unit = unit_of("chatforge." + rel.removesuffix(".py").replace("/", "."))
        if rel == "__init__.py":
            unit = "chatforge"
        for target, line in imported_units(rel, tree, units).items():
            if target != unit:
                graph[unit].setdefault(target, f"{rel}:{line}")
    return graph


def reaches(graph: dict[str, dict[str, str]], start: str, goal: str) -> list[str] | None:
    """A path of parts from ``start`` to ``goal`` (depth first), or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        for nxt in graph.get(node, {}):
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_imports_between_parts_go_one_way():
    graph = unit_graph()
    for edge in KNOWN_CYCLE_EDGES:
        assert edge[1] in graph.get(edge[0], {}), (
            f"{edge[0]} no longer imports {edge[1]}: remove {edge} from KNOWN_CYCLE_EDGES"
        )
        del graph[edge[0]][edge[1]]
    cycles = []
    for unit, targets in sorted(graph.items()):
        for target, where in sorted(targets.items()):
            back = reaches(graph, target, unit)
            if back is not None:
                cycles.append(f"{unit} -> {' -> '.join(back)} (first link at {where})")
    assert not cycles, "import cycles between parts of chatforge:\n" + "\n".join(cycles)


def test_imports_inside_functions_relative_and_type_checking_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from chatforge.bot import Bot\n"
        "def answer():\n"
        "    from ..llm import open_llm\n"
        "    import chatforge.store.sqlite\n"
        "from . import prompt\n"
        "from chatforge import models, __version__\n"
    )
    units = {"bot", "chat", "llm", "models", "store"}
    found = imported_units("chat/engine.py", ast.parse(source), units)
    assert found == {"bot": 3, "llm": 5, "store": 6, "chat": 7, "models": 8, "chatforge": 8}


def test_model_names_sit_below_what_opens_trains_and_measures_models():
    """models is imported by llm, finetune and evaluate, never the reverse; llm opens models
    without knowing how they were trained; fine-tuning uses evaluation, not the reverse."""
    graph = unit_graph()
    assert not {"llm", "finetune", "evaluate"} & set(graph.get("models", {}))
    assert not {"finetune", "evaluate"} & set(graph.get("llm", {}))
    assert "finetune" not in graph.get("evaluate", {})
    assert {"models", "evaluate"} <= set(graph["finetune"]) and "models" in graph["llm"]


def test_modules_stay_under_the_line_limit():
    long = {
        rel: len(path.read_text(encoding="utf-8").splitlines())
        for rel, path in ((p.relative_to(SRC).as_posix(), p) for p in SRC.rglob("*.py"))
    }
    over = {rel for rel, n in long.items() if n > MAX_MODULE_LINES}
    stale = KNOWN_LONG_MODULES - over
    assert not stale, f"now within {MAX_MODULE_LINES} lines, drop from KNOWN_LONG_MODULES: {stale}"
    new = sorted(f"{rel} ({long[rel]} lines)" for rel in over - KNOWN_LONG_MODULES)
    assert not new, f"modules over {MAX_MODULE_LINES} lines: {', '.join(new)}"


def functions(tree: ast.Module) -> dict[str, int]:
    """Class.method or function name (nested ones too) -> its length in lines."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[name] = child.end_lineno - child.lineno + 1
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def test_functions_stay_under_the_line_limit():
    lengths = {
        f"{rel}::{name}": n
        for rel, tree in modules().items()
        for name, n in functions(tree).items()
    }
    over = {name for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    stale = KNOWN_LONG_FUNCTIONS - over
    assert not stale, (
        f"now within {MAX_FUNCTION_LINES} lines, drop from KNOWN_LONG_FUNCTIONS: {stale}"
    )
    new = sorted(f"{name} ({lengths[name]} lines)" for name in over - KNOWN_LONG_FUNCTIONS)
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(new)}"
