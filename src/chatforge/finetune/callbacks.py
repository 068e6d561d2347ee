"""Trainer callbacks: a wall-clock budget and metrics written to CSV as they come."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from chatforge.evaluate.report import read_metrics

FIELDS = ("step", "epoch", "seconds", "tokens", "loss", "eval_loss", "learning_rate", "grad_norm")


class TimeBudget(TrainerCallback):
    """Stop after ``minutes`` of training, evaluating and checkpointing at the last step."""

    def __init__(self, minutes: float | None) -> None:
        self.seconds = None if minutes is None else minutes * 60
        self.start = time.monotonic()
        self.hit = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.start = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.seconds is not None and time.monotonic() - self.start >= self.seconds:
            self.hit = True
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True


class CsvMetrics(TrainerCallback):
    """Append every logged value (training and validation loss) to ``metrics.csv``.

    Rows are flushed as they are logged, so an interrupted run keeps its curve and a resumed
    one continues the same file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.monotonic()
        self.offset = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.start = time.monotonic()
        self.offset = 0.0
        if self.path.is_file():
            rows = read_metrics(self.path)
            self.offset = max((r["seconds"] for r in rows if r.get("seconds")), default=0.0)
        else:
            with self.path.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(FIELDS)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0.0, 4),
            "seconds": round(self.offset + time.monotonic() - self.start, 2),
            "tokens": int(getattr(state, "num_input_tokens_seen", 0) or 0),
            **{k: logs.get(k, "") for k in FIELDS[4:]},
        }
        if all(row[k] == "" for k in ("loss", "eval_loss")):
            return
        with self.path.open("a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row[k] for k in FIELDS])
