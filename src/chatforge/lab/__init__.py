"""The lab: small language models trained side by side to show how they work.

`run_lab` trains an LSTM and a GPT-style Transformer of matched size for the same time on the
same text, probes both on long-range recall, and writes a report. The pieces are importable on
their own: `models` (LSTMLM, GPT), `data`, `train`, `probe`, `report`. Importing this package
is cheap; torch loads with the first of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["run_lab"]

if TYPE_CHECKING:
    from chatforge.lab.train import run_lab


def __getattr__(name: str) -> Any:
    if name == "run_lab":
        from chatforge.lab.train import run_lab

        return run_lab
    raise AttributeError(f"module 'chatforge.lab' has no attribute {name!r}")
