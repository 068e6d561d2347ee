"""The agent's calculator: arithmetic only, over the syntax tree, never eval."""

from __future__ import annotations

import pytest

from chatforge.agent.calculator import calculate
from chatforge.errors import ChatforgeError


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("12.50 + 7.25", 19.75),
        ("340 + 60", 400),
        ("3 * (4 + 5)", 27),
        ("2 ^ 10", 1024),
        ("14 × 2 ÷ 4", 7),
        ("-(3 - 10) // 2", 3),
        ("round(sqrt(2), 3)", 1.414),
        ("max(3, 9) % 4", 1),
    ],
)
def test_arithmetic(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("(1).__class__", "not allowed"),
        ("open('/etc/passwd')", "not allowed"),
        ("x + 1", "not allowed"),
        ("'a' * 3", "not allowed"),
        ("9 ** 9 ** 9", "exponents above"),
        ("1 / 0", "divides by zero"),
        ("3 +", "not arithmetic"),
        ("", "1 to 200 characters"),
    ],
)
def test_anything_else_is_refused_with_the_reason(expression, says):
    with pytest.raises(ChatforgeError, match=says):
        calculate(expression)
