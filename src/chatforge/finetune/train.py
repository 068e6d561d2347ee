"""`chatforge finetune`: LoRA, QLoRA or full fine-tuning with the Hugging Face Trainer.

The run happens in ``OUT.partial``: checkpoints land in ``checkpoints/`` every ``eval_steps``
(the best and the last are kept), metrics in ``metrics.csv``. A Ctrl-C leaves the last
checkpoint there and ``--resume`` continues from it; nothing appears at ``OUT`` until the run is
finished: adapter, merged model, GGUF, summary and report are written into the partial folder,
which is then renamed to ``OUT`` in one step.

Speed on CPU comes from packing (no padding), bfloat16 autocast where the CPU has native
bfloat16 (AVX512-BF16 or AMX), PyTorch's fused AdamW and one thread per core. Devices are left
to the Trainer (accelerate), so the same command runs on a GPU or under ``accelerate launch``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatforge.data.prepared import load_dataset_folder, prepared_model, tokenize_split
from chatforge.errors import ChatforgeError
from chatforge.finetune.checks import check_causal, check_gguf_arch, check_method
from chatforge.finetune.dataset import cap_tokens, check_size, pack
from chatforge.finetune.export import GGUF_TYPES
from chatforge.models import register_run

RUN_FILE = "run.json"
# Settings a resumed run must share with the interrupted one.
RESUME_KEYS = ("dataset", "base", "method", "max_length", "batch_size", "lora_r", "seed")


@dataclass
class FinetuneConfig:
    """What to train and how; the defaults suit a small model trained on a CPU."""

    dataset: str
    base: str = "smollm2"
    method: str = "lora"
    out: str | None = None
    max_steps: int | None = None
    minutes: float | None = 10.0
    epochs: float = 2.0
    learning_rate: float | None = None
    # One sequence per forward pass, four passes per optimizer step: an effective batch of 4
    # with a quarter of the activation and logit memory of a batch of 4.
    batch_size: int = 1
    grad_accum: int = 4
    max_length: int = 512
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    warmup: int = 10
    """Optimizer steps of linear warm-up. A count, not a share of the planned steps: a run cut
    short by `minutes` may never reach 5% of a schedule planned in epochs."""
    eval_steps: int = 25
    logging_steps: int = 5
    patience: int = 3
    max_eval_tokens: int = 16384
    seed: int = 0
    threads: int | None = None
    packing: bool = True
    bf16: str = "auto"
    gguf: bool = True
    gguf_type: str = "q8_0"
    report_questions: int = 4
    resume: bool = False
    progress: bool = True
    callbacks: Sequence[Any] = field(default=(), repr=False)

    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 5e-5 if self.method == "full" else 1e-3

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        return Path(f"{Path(self.dataset).resolve().name}-finetuned")

    def recorded(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("callbacks")
        return data


def partial_dir(out: Path) -> Path:
    return out.with_name(f"{out.name}.partial")


def use_bf16(setting: str) -> bool:
    import torch

    if setting in ("on", "off"):
        return setting == "on"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    from chatforge.embed import cpu_runs_bf16

    return cpu_runs_bf16()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process (and of CUDA allocations), in MB."""
    import torch

    peak = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        peak["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak


def last_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose trainer state was written whole (the last file saved)."""
    found = []
    for ckpt in folder.glob("checkpoint-*"):
        try:
            json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
            found.append((int(ckpt.name.split("-")[-1]), ckpt))
        except (OSError, ValueError):
            continue
    return max(found)[1] if found else None


def _prepare_out(cfg: FinetuneConfig) -> tuple[Path, Path, dict[str, Any]]:
    out = cfg.out_dir()
    partial = partial_dir(out)
    if out.exists():
        raise ChatforgeError(f"{out} already exists; choose another --out or remove it")
    record: dict[str, Any] = {}
    if cfg.resume:
        try:
            record = json.loads((partial / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ChatforgeError(
                f"nothing to resume in {partial}; start without --resume"
            ) from None
        old = record.get("config", {})
        for key in RESUME_KEYS:
            if old.get(key) != getattr(cfg, key):
                raise ChatforgeError(
                    f"--resume with {key}={getattr(cfg, key)!r}, but the run in {partial} used "
                    f"{old.get(key)!r}; give the same options"
                )
    elif partial.exists():
        raise ChatforgeError(
            f"{partial} holds an unfinished run; continue it with --resume or remove the folder"
        )
    return out, partial, record


def _load_model(folder: Path, cfg: FinetuneConfig, bf16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if cfg.method == "qlora":
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if bf16 else torch.float16
        kwargs = {
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute,
            ),
            "dtype": compute,
            "device_map": {"": PartialState().local_process_index},
        }
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model.config.use_cache = False
    if cfg.method == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _training_args(cfg: FinetuneConfig, partial: Path, bf16: bool) -> Any:
    import importlib.util

    import torch
    from transformers import TrainingArguments

    tensorboard = importlib.util.find_spec("tensorboard") is not None
    if tensorboard:
        # Beside metrics.csv rather than among the checkpoints, which are removed at the end.
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(partial / "tensorboard")
    return TrainingArguments(
        output_dir=str(partial / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr(),
        lr_scheduler_type="cosine",
        warmup_steps=cfg.warmup,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        eval_strategy="steps",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        report_to=["tensorboard"] if tensorboard else "none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        optim="adamw_torch_fused",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        include_num_input_tokens_seen="all",
        disable_tqdm=not cfg.progress,
    )


@dataclass
class _Sets:
    """Token ids to train on, to validate on (packed like training), and to measure on."""

    train: list
    validation: list
    measured: list


def finetune(cfg: FinetuneConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, export and report; returns the run's summary (also in OUT/summary.json)."""
    check_method(cfg.method)
    if cfg.gguf_type not in GGUF_TYPES:
        raise ChatforgeError(
            f"unknown --gguf-type {cfg.gguf_type!r}; choose q8_0, f16, bf16 or f32"
        )
    out, partial, record = _prepare_out(cfg)

    from chatforge.llm import hf_folder

    check_gguf_arch(cfg.base)
    folder = hf_folder(cfg.base).resolve()
    check_causal(folder, cfg.base)
    ds = load_dataset_folder(cfg.dataset)

    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    sets = _token_sets(cfg, ds, tokenizer)
    torch.set_num_threads(cfg.threads or cores())
    bf16 = use_bf16(cfg.bf16)
    partial.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:
        record = {"config": cfg.recorded(), "base_folder": str(folder)}
        (partial / RUN_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    try:
        summary = _train(cfg, folder, tokenizer, sets, partial, record, bf16, log)
    except BaseException:
        if last_checkpoint(partial / "checkpoints") is None and not cfg.resume:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if not summary:
        return summary
    shutil.rmtree(partial / "checkpoints", ignore_errors=True)
    os.replace(partial, out)
    summary["name"] = register_run(out)
    log(f"fine-tuned model in {out} (name {summary['name']})")
    return summary


def _token_sets(cfg: FinetuneConfig, ds: Any, tokenizer: Any) -> _Sets:
    reuse = prepared_model(cfg.dataset) == cfg.base
    train_rows = tokenize_split(ds["train"], tokenizer, cfg.max_length, reuse)
    val_rows = tokenize_split(ds["validation"], tokenizer, cfg.max_length, reuse)
    check_size(cfg.dataset, train_rows, val_rows)
    val_rows = cap_tokens(val_rows, cfg.max_eval_tokens)
    if not cfg.packing:
        return _Sets(train_rows, val_rows, val_rows)
    return _Sets(pack(train_rows, cfg.max_length), pack(val_rows, cfg.max_length), val_rows)


def _train(
    cfg: FinetuneConfig,
    folder: Path,
    tokenizer: Any,
    sets: _Sets,
    partial: Path,
    record: dict[str, Any],
    bf16: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer, set_seed

    from chatforge.evaluate.perplexity import perplexity
    from chatforge.finetune.callbacks import CsvMetrics, TimeBudget
    from chatforge.finetune.dataset import PackedCollator

    set_seed(cfg.seed)
    model = _load_model(folder, cfg, bf16)
    if "perplexity_before" not in record:
        log(f"measuring {cfg.base} on {len(sets.measured)} validation rows")
        record["perplexity_before"] = perplexity(model, sets.measured, cfg.batch_size)
        (partial / RUN_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    budget = TimeBudget(cfg.minutes)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    trainer = Trainer(
        model=model,
        args=_training_args(cfg, partial, bf16),
        train_dataset=sets.train,
        eval_dataset=sets.validation,
        data_collator=PackedCollator(pad or 0),
        callbacks=[
            EarlyStoppingCallback(cfg.patience),
            budget,
            CsvMetrics(partial / "metrics.csv"),
            *cfg.callbacks,
        ],
    )
    if not cfg.progress:
        # Without progress bars the Trainer prints each log dict on stdout, which --json keeps
        # for the summary alone; metrics.csv has them.
        trainer.remove_callback(PrinterCallback)
    resume_from = last_checkpoint(partial / "checkpoints") if cfg.resume else None
    started = time.monotonic()
    result = _fit(trainer, cfg, partial, resume_from)
    seconds = time.monotonic() - started
    if not trainer.is_world_process_zero():
        return {}
    ppl_after = perplexity(trainer.model, sets.measured, cfg.batch_size)
    stopped = "minutes" if budget.hit else None
    summary = _summary(cfg, folder, trainer.state, stopped, seconds, resume_from is not None)
    summary.update(
        train_loss=round(result.training_loss, 4),
        best_eval_loss=trainer.state.best_metric,
        perplexity_before=record["perplexity_before"],
        perplexity_after=ppl_after,
        validation_rows=len(sets.measured),
        bf16_autocast=bf16,
        packing=cfg.packing,
        threads=torch.get_num_threads(),
        config=cfg.recorded(),
    )
    summary.update(peak_memory())
    _export(cfg, trainer.model, tokenizer, partial, summary, log)
    return summary


def _fit(trainer: Any, cfg: FinetuneConfig, partial: Path, resume_from: Path | None) -> Any:
    """Run the trainer; an interruption or running out of memory ends in a one-line error."""
    import torch

    try:
        return trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except KeyboardInterrupt:
        ckpt = last_checkpoint(partial / "checkpoints")
        if ckpt is None:
            raise ChatforgeError(
                "training interrupted before the first checkpoint; nothing kept"
            ) from None
        raise ChatforgeError(
            f"training interrupted; the last checkpoint is {ckpt}; continue with the same "
            "command and --resume"
        ) from None
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise ChatforgeError(
            f"out of memory while training ({type(e).__name__}); lower --batch-size (now "
            f"{cfg.batch_size}) or --max-length (now {cfg.max_length})"
        ) from None


def _summary(
    cfg: FinetuneConfig,
    folder: Path,
    state: Any,
    stopped: str | None,
    seconds: float,
    resumed: bool,
) -> dict[str, Any]:
    """The run's facts up to its training speed; ``stopped`` is set when the budget ended it."""
    if stopped is None:
        stopped = "max_steps" if cfg.max_steps and state.global_step >= cfg.max_steps else "epochs"
        if state.global_step < state.max_steps and not cfg.max_steps:
            stopped = "early_stopping"
    tokens = int(state.num_input_tokens_seen or 0)
    return {
        "base": cfg.base,
        "base_folder": str(folder),
        "dataset": str(Path(cfg.dataset).resolve()),
        "method": cfg.method,
        "steps": state.global_step,
        "epochs": round(state.epoch or 0.0, 3),
        "stopped_by": stopped,
        "train_seconds": round(seconds, 1),
        "train_tokens": tokens,
        "tokens_per_s": None if resumed else round(tokens / max(seconds, 1e-9), 1),
    }


def _export(
    cfg: FinetuneConfig,
    model: Any,
    tokenizer: Any,
    partial: Path,
    summary: dict[str, Any],
    log: Callable[[str], None],
) -> None:
    from chatforge.finetune.export import save_merged, to_gguf

    if cfg.method != "full":
        model.save_pretrained(partial / "adapter")
        tokenizer.save_pretrained(partial / "adapter")
    if cfg.method == "qlora":
        model = _reload_for_merge(summary["base_folder"], partial / "adapter")
    save_merged(model, tokenizer, partial / "merged")
    if cfg.gguf:
        log(f"writing model.gguf ({cfg.gguf_type}) with llama.cpp's converter")
        to_gguf(partial / "merged", partial / "model.gguf", cfg.gguf_type)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    from chatforge.evaluate.compare import finetune_report

    log("writing report.md (base vs fine-tuned)")
    finetune_report(partial, summary, cfg.report_questions)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _reload_for_merge(base_folder: str, adapter: Path) -> Any:
    """QLoRA weights merge into an unquantized copy of the base, not the 4-bit one."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.bfloat16)
    return PeftModel.from_pretrained(base, str(adapter))
