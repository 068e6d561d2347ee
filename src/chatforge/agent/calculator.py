"""A safe arithmetic evaluator for the agent's calculator: it walks the expression's syntax
tree and allows numbers, + - * / // % **, parentheses and a few math functions. Nothing is
ever passed to ``eval``, so a model (or a user) cannot run code through it."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from chatforge.errors import ChatforgeError

MAX_EXPONENT = 100
MAX_CHARS = 200

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
}


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression ("3 * (4 + 5)", "sqrt(2)"); whole results are ints."""
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("^", "**")
    if not text or len(text) > MAX_CHARS:
        raise ChatforgeError(f"an expression of 1 to {MAX_CHARS} characters is needed")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ChatforgeError(f"{expression!r} is not arithmetic; write e.g. 12 * (3 + 4)") from e
    try:
        value = _value(tree.body)
    except ZeroDivisionError as e:
        raise ChatforgeError(f"{expression!r} divides by zero") from e
    except (OverflowError, ValueError, TypeError) as e:
        raise ChatforgeError(f"{expression!r} cannot be computed: {e}") from e
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return round(value, 10) if isinstance(value, float) else value


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponents above {MAX_EXPONENT} are refused")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_value(a) for a in node.args))
    raise ChatforgeError(
        f"{ast.unparse(node)!r} is not allowed; use numbers, + - * / // % **, parentheses and "
        f"{', '.join(_FUNCTIONS)}"
    )
