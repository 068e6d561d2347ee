"""Tiny training sets in the prepared-dataset shape, and a run small enough for a test.

The datasets are written directly with `datasets.DatasetDict.save_to_disk` in the shape that
`chatforge data prepare` writes (splits train/validation; columns messages, text, kind,
conversation_id, source), so these tests do not depend on the readers.
"""

from __future__ import annotations

from pathlib import Path

FACTS = [
    ("What colour is the widget?", "The widget is bright teal."),
    ("Which port does the widget daemon use?", "The widget daemon listens on port 7341."),
    ("How do I remove the widget?", "Run apt purge widget to remove it."),
    ("Who makes the widget?", "The widget is made by Teal Works Ltd."),
    ("How heavy is the widget?", "The widget weighs 420 grams."),
    ("Where is the widget config?", "The config lives in /etc/widget/widget.conf."),
    ("What does the widget run on?", "The widget runs on Debian and Ubuntu."),
    ("When was the widget released?", "The widget was released in March 2021."),
]


def conversation(i: int, q: str, a: str) -> dict:
    return {
        "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
        "text": "",
        "kind": "chat",
        "conversation_id": f"c{i}",
        "source": "widget.csv",
    }


def write_dataset(folder: Path, train: list[dict], validation: list[dict]) -> Path:
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {"train": Dataset.from_list(train), "validation": Dataset.from_list(validation)}
    ).save_to_disk(str(folder))
    return folder


def tiny_config(dataset: Path, out: Path, **kw):
    """A run of a few steps on short sequences: enough to see learning, cheap on 2 cores."""
    from chatforge.finetune.train import FinetuneConfig

    settings = dict(
        dataset=str(dataset),
        out=str(out),
        max_steps=4,
        eval_steps=2,
        logging_steps=1,
        batch_size=2,
        grad_accum=1,
        max_length=64,
        learning_rate=3e-3,
        warmup=0,
        report_questions=1,
        progress=False,
        # The suite shares the machine: one thread avoids contention between busy processes.
        threads=1,
    )
    settings.update(kw)
    return FinetuneConfig(**settings)
