"""Ctrl-C and running out of memory during training.

Both are raised from a Trainer callback (KeyboardInterrupt / torch.OutOfMemoryError) because a
test cannot press Ctrl-C or exhaust memory reliably; everything around them is real training.
"""

from __future__ import annotations

import json

import pytest
from ftsupport import tiny_config
from transformers import TrainerCallback

from chatforge.errors import ChatforgeError


class RaiseAt(TrainerCallback):
    def __init__(self, step: int, error: BaseException) -> None:
        self.step, self.error = step, error

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise self.error


def test_ctrl_c_keeps_the_last_checkpoint_and_resume_finishes(ft_cache, widget_dataset, tmp_path):
    from chatforge.finetune.train import finetune, last_checkpoint

    out = tmp_path / "run"
    partial = tmp_path / "run.partial"
    cfg = tiny_config(widget_dataset, out, gguf=False, report_questions=0)
    cfg.callbacks = [RaiseAt(3, KeyboardInterrupt())]
    with pytest.raises(ChatforgeError, match="--resume") as info:
        finetune(cfg, log=lambda _m: None)
    assert "\n" not in str(info.value)
    assert not out.exists()
    assert last_checkpoint(partial / "checkpoints").name == "checkpoint-2"

    with pytest.raises(ChatforgeError, match="unfinished run"):
        finetune(tiny_config(widget_dataset, out, gguf=False), log=lambda _m: None)

    summary = finetune(
        tiny_config(widget_dataset, out, gguf=False, report_questions=0, resume=True),
        log=lambda _m: None,
    )
    assert summary["steps"] == 4
    assert not partial.exists() and (out / "merged" / "config.json").is_file()
    saved = json.loads((out / "summary.json").read_text())
    assert saved["perplexity_before"] == summary["perplexity_before"]


def test_out_of_memory_names_batch_size_and_length(ft_cache, widget_dataset, tmp_path):
    import torch

    from chatforge.finetune.train import finetune

    out = tmp_path / "run"
    cfg = tiny_config(widget_dataset, out, gguf=False, report_questions=0)
    cfg.callbacks = [RaiseAt(1, torch.OutOfMemoryError("CUDA out of memory"))]
    with pytest.raises(ChatforgeError, match="--batch-size.*--max-length"):
        finetune(cfg, log=lambda _m: None)
    assert not out.exists() and not (tmp_path / "run.partial").exists()
