"""chatforge's fine-tuning recipe vs the plain TRL recipe, same data, same wall-clock budget.

The corpus is the Debian FAQ (`apt-get download debian-faq`, HTML), its text extracted by
chatforge's HTML loader, tokenized with SmolLM2's tokenizer and cut into 512-token blocks; a
seeded 90/10 split of the blocks gives training and validation sets, saved once as a dataset
folder both recipes read.

- plain: TRL `SFTTrainer` + PEFT LoRA r=16 on all linear layers, batch 4 of 512 tokens,
  lr 5e-4, everything else at TRL's defaults;
- chatforge: `chatforge finetune` (its defaults, GGUF export and report left out).

Each recipe runs in its own process (so peak memory is its own) for `--minutes` of training.
Printed: training tokens/s of both and their ratio, validation perplexity before and after for
both (the same validation blocks, token-weighted), peak memory. `--quick` runs one minute each
on a few validation blocks, to check that the bench works; judge only its ratios, and only on a
quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import offline, peak_rss_mb, table  # noqa: E402
from corpora import DEFAULT_CACHE, debian_faq, debian_faq_pages  # noqa: E402

BLOCK = 512
BASE = "smollm2"
# Enough passes that the wall-clock budget, not the data, ends both runs.
EPOCHS = 1000


def build_dataset(folder: Path, seed: int = 0) -> Path:
    """The FAQ as 512-token blocks, 90/10 split, saved with the ids both recipes train on."""
    if (folder / "dataset_dict.json").is_file():
        return folder
    from datasets import Dataset, DatasetDict
    from transformers import AutoTokenizer

    from chatforge.formats import load
    from chatforge.llm import hf_folder

    faq = debian_faq()
    text = "\n\n".join(
        doc.text for page in debian_faq_pages(faq) for doc in load(faq / page, str(page))
    )
    tokenizer = AutoTokenizer.from_pretrained(hf_folder(BASE))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    blocks = [ids[i : i + BLOCK] for i in range(0, len(ids) - BLOCK + 1, BLOCK)]
    random.Random(seed).shuffle(blocks)
    n_val = max(1, len(blocks) // 10)

    def rows(part: list[list[int]], split: str) -> Dataset:
        return Dataset.from_list(
            [
                {
                    "messages": [],
                    "text": "",
                    "kind": "text",
                    "conversation_id": f"{split}-{i}",
                    "source": "debian-faq",
                    "input_ids": b,
                    "labels": b,
                    "length": len(b),
                }
                for i, b in enumerate(part)
            ]
        )

    tmp = folder.with_name(folder.name + ".part")
    DatasetDict(
        {"train": rows(blocks[n_val:], "train"), "validation": rows(blocks[:n_val], "val")}
    ).save_to_disk(str(tmp))
    (tmp / "stats.json").write_text(json.dumps({"model": BASE, "blocks": len(blocks)}), "utf-8")
    os.replace(tmp, folder)
    return folder


def run_plain(dataset: Path, minutes: float, eval_blocks: int, work: Path) -> dict:
    """TRL SFTTrainer + PEFT LoRA r=16 (all linear), batch 4 x 512, lr 5e-4, TRL defaults."""
    import torch
    from datasets import load_from_disk
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from chatforge.evaluate.perplexity import perplexity
    from chatforge.llm import hf_folder

    class Deadline(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.monotonic()

        def on_step_end(self, args, state, control, **kw):
            if time.monotonic() - self.t0 >= minutes * 60:
                control.should_training_stop = True

    ds = load_from_disk(str(dataset))
    val = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in ds["validation"]]
    val = val[:eval_blocks]
    folder = hf_folder(BASE)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    before = perplexity(model, val)
    train = ds["train"].select_columns(["input_ids"])
    config = SFTConfig(
        output_dir=str(work / "plain"),
        per_device_train_batch_size=4,
        learning_rate=5e-4,
        max_length=BLOCK,
        num_train_epochs=EPOCHS,
        report_to="none",
        save_strategy="no",
        use_cpu=not torch.cuda.is_available(),
        seed=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=train,
        processing_class=AutoTokenizer.from_pretrained(folder),
        peft_config=LoraConfig(r=16, target_modules="all-linear", task_type="CAUSAL_LM"),
        callbacks=[Deadline()],
    )
    result = trainer.train()
    seconds = result.metrics["train_runtime"]
    tokens = trainer.state.global_step * config.per_device_train_batch_size * BLOCK
    after = perplexity(trainer.model, val)
    return {
        "recipe": "plain",
        "steps": trainer.state.global_step,
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "ppl_before": before,
        "ppl_after": after,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_chatforge(dataset: Path, minutes: float, eval_blocks: int, work: Path) -> dict:
    """`chatforge finetune` with its defaults under the same budget."""
    from chatforge.finetune.train import FinetuneConfig, finetune

    out = work / "chatforge-run"
    cfg = FinetuneConfig(
        dataset=str(dataset),
        base=BASE,
        out=str(out),
        minutes=minutes,
        epochs=EPOCHS,
        max_eval_tokens=eval_blocks * BLOCK,
        gguf=False,
        report_questions=0,
        progress=False,
    )
    s = finetune(cfg, log=lambda msg: print(msg, file=sys.stderr))
    return {
        "recipe": "chatforge",
        "steps": s["steps"],
        "tokens": s["train_tokens"],
        "seconds": s["train_seconds"],
        "tokens_per_s": s["train_tokens"] / s["train_seconds"],
        "ppl_before": s["perplexity_before"],
        "ppl_after": s["perplexity_after"],
        "peak_rss_mb": s["peak_rss_mb"],
        "bf16_autocast": s["bf16_autocast"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per recipe")
    parser.add_argument("--eval-blocks", type=int, default=None, help="validation blocks used")
    parser.add_argument("--quick", action="store_true", help="1 minute each, 4 eval blocks")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--recipe", choices=("plain", "chatforge"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    minutes = 1.0 if args.quick else args.minutes
    eval_blocks = args.eval_blocks or (4 if args.quick else 10_000)
    dataset = args.cache / "finetune-debian-faq-512"

    if args.recipe:
        run = run_plain if args.recipe == "plain" else run_chatforge
        print(json.dumps(run(dataset, minutes, eval_blocks, args.work)))
        return

    import tempfile

    build_dataset(dataset)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as work:
        for recipe in ("plain", "chatforge"):
            cmd = [sys.executable, __file__, "--recipe", recipe, "--work", work]
            cmd += ["--minutes", str(minutes), "--eval-blocks", str(eval_blocks)]
            cmd += ["--cache", str(args.cache)]
            got = subprocess.run(cmd, capture_output=True, text=True)
            if got.returncode != 0:
                sys.exit(f"{recipe} recipe failed:\n{got.stderr[-3000:]}")
            results.append(json.loads(got.stdout.strip().splitlines()[-1]))
    plain, ours = results
    print(f"Debian FAQ, {BLOCK}-token blocks, {minutes:g} min of training per recipe, {BASE}")
    rows = [
        [
            r["recipe"],
            r["steps"],
            r["tokens_per_s"],
            r["ppl_before"],
            r["ppl_after"],
            f"{100 * (r['ppl_after'] / r['ppl_before'] - 1):+.1f}%",
            r["peak_rss_mb"],
        ]
        for r in results
    ]
    header = ["recipe", "steps", "train tok/s", "val ppl before", "after", "change", "peak MB"]
    print(table(rows, header))
    print(f"tokens/s ratio chatforge/plain: {ours['tokens_per_s'] / plain['tokens_per_s']:.2f}x")
    ratio = ours["ppl_after"] / plain["ppl_after"]
    print(f"validation perplexity after, chatforge/plain: {ratio:.3f}")


if __name__ == "__main__":
    main()
