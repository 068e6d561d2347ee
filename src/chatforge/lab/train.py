"""The training loop, and the whole LSTM-vs-Transformer experiment built on it.

The loop is written out by hand (batch, forward, loss, backward, clip, step) because seeing it
is the point. It runs for a wall-clock budget rather than a number of steps: both models get
the same seconds, and how many tokens each gets through in them is part of the result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from chatforge.errors import ChatforgeError
from chatforge.lab import data as D
from chatforge.lab import probe as P
from chatforge.lab.models import (
    GPT,
    LSTMLM,
    GPTConfig,
    count_params,
    generate,
    lstm_config_matching,
)

Log = Callable[[str], None]

# How a run's budget is spent: each model trains on the corpus for LM_SHARE of it and on the
# probe for PROBE_SHARE; evaluation, sampling and plotting take the rest.
LM_SHARE = 0.30
PROBE_SHARE = 0.12
# Each model at the peak learning rate that did best in a short sweep (2e-3, 5e-3, 1e-2) on the
# default corpus: a comparison at one shared rate would mostly measure whose rate it suits.
LEARNING_RATES = {"lstm": 1e-2, "transformer": 2e-3}


def pick_device() -> torch.device:
    """A CUDA GPU when there is one; the code is the same either way."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TrainResult:
    params: int
    steps: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    tokens_per_s: float = 0.0
    final_val_loss: float = float("nan")
    final_val_ppl: float = float("nan")
    # One point per evaluation: training seconds and tokens so far, and validation loss.
    curve: list[dict[str, float | None]] = field(default_factory=list)


def fixed_batches(
    data: torch.Tensor, block_size: int, batch_size: int, n: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The same validation windows for every evaluation of every model: a fair yardstick."""
    gen = torch.Generator().manual_seed(seed)
    return [D.get_batch(data, block_size, batch_size, gen) for _ in range(n)]


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> float:
    """Mean cross-entropy (nats per token) over the given batches."""
    model.eval()
    losses = [model(x.to(device), y.to(device))[1].item() for x, y in batches]
    model.train()
    return sum(losses) / len(losses)


def lr_at(step: int, progress: float, lr: float, warmup_steps: int = 20) -> float:
    """Linear warm-up over the first steps, then cosine decay to lr/10 over the budget.

    The decay follows the share of the budget used (`progress`, 0 to 1), not a step count,
    because with a time budget the number of steps is not known in advance.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _progress(res: TrainResult, budget_s: float, max_steps: int | None) -> float:
    """How much of the run is done: by time, or by steps when a step limit comes first."""
    done = res.train_seconds / budget_s
    return max(done, res.steps / max_steps) if max_steps else done


def train_lm(
    model: nn.Module,
    splits: D.Splits,
    budget_s: float,
    *,
    block_size: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    n_evals: int = 12,
    eval_batches: int = 8,
    max_steps: int | None = None,
    log: Log | None = None,
) -> TrainResult:
    """Train a language model for `budget_s` seconds of training time (evaluation excluded).

    `max_steps` also stops it after that many steps (a repeatable run for tests).
    """
    device = torch.device(device)
    model.to(device).train()
    gen = torch.Generator().manual_seed(seed)  # same seed, same batches, for both models
    val = fixed_batches(splits.val, block_size, batch_size, eval_batches, seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    res = TrainResult(params=count_params(model))

    def record(train_loss: float | None) -> None:
        val_loss = evaluate(model, val, device)
        res.curve.append(
            {
                "time_s": res.train_seconds,
                "tokens": res.tokens_seen,
                "step": res.steps,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_ppl": math.exp(val_loss),
            }
        )
        if log:
            log(
                f"  {res.train_seconds:6.1f}s {res.tokens_seen:>9,} tokens  "
                f"val ppl {math.exp(val_loss):8.2f}"
            )

    record(None)
    next_eval = budget_s / n_evals
    while res.train_seconds < budget_s and (max_steps is None or res.steps < max_steps):
        start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(res.steps, _progress(res, budget_s, max_steps), lr)
        x, y = D.get_batch(splits.train, block_size, batch_size, gen, device)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        train_loss = loss.item()  # waits for the device, so the clock is honest on a GPU too
        res.train_seconds += time.perf_counter() - start
        res.steps += 1
        res.tokens_seen += x.numel()
        last = res.train_seconds >= budget_s or res.steps == max_steps
        if res.train_seconds >= next_eval or last:
            record(train_loss)
            next_eval += budget_s / n_evals
    res.tokens_per_s = res.tokens_seen / max(res.train_seconds, 1e-9)
    res.final_val_loss = res.curve[-1]["val_loss"]
    res.final_val_ppl = res.curve[-1]["val_ppl"]
    return res


def _attention_sentence(tokenizer: D.Tokenizer, text: str, lo: int = 10, hi: int = 20) -> str:
    """A whole sentence from the validation text, short enough to label every token."""
    for sentence in text.replace("\n", " ").split(". "):
        sentence = " ".join(sentence.split()) + "."
        if lo <= len(tokenizer.encode(sentence)) <= hi and sentence[:1].isupper():
            return sentence
    return tokenizer.decode(tokenizer.encode(" ".join(text.split()))[:hi])


def run_lab(
    corpus: Path | str | None = None,
    minutes: float = 10.0,
    out: Path | str = "lab-out",
    tokenizer: str = "bpe",
    seed: int = 0,
    *,
    config: GPTConfig | None = None,
    log: Log | None = print,
) -> dict[str, Any]:
    """Train an LSTM and a Transformer side by side, probe both, and write the report.

    Returns the metrics (also written to `out/metrics.json`). `config` sizes the Transformer
    (its vocab_size is set from the tokenizer); the LSTM is sized to match its parameters.
    """
    from chatforge.lab import report

    def say(msg: str) -> None:
        if log:
            log(msg)

    out = _checked_out(minutes, tokenizer, out)
    device = pick_device()
    budget = {
        "minutes": minutes,
        "lm_seconds_per_model": minutes * 60 * LM_SHARE,
        "probe_seconds_per_model": minutes * 60 * PROBE_SHARE,
        "device": str(device),
        "seed": seed,
    }

    text = D.load_corpus(corpus)
    say(f"corpus: {text.name} ({len(text.text):,} characters)")
    tok = D.make_tokenizer(tokenizer, text.text)
    ids = tok.encode(text.text)
    cfg = GPTConfig(**{**asdict(config or GPTConfig()), "vocab_size": tok.vocab_size})
    splits = D.split(ids, cfg.block_size)
    lstm_cfg = lstm_config_matching(cfg)
    say(f"tokenizer: {tok.kind}, {tok.vocab_size} tokens; {len(ids):,} tokens in the corpus")

    torch.manual_seed(seed)
    models: dict[str, nn.Module] = {"lstm": LSTMLM(lstm_cfg), "transformer": GPT(cfg)}
    for name, model in models.items():
        say(f"{name}: {count_params(model):,} parameters")
    results = _train_models(models, splits, cfg.block_size, budget, seed, device, log)
    sampling = _sample(models, tok, splits.val, cfg.block_size, seed, device, results)
    sentence, sentence_ids, attention = _attention(models["transformer"], tok, splits.val, device)
    probe = _probe(cfg, budget, seed, device, say, results)

    metrics: dict[str, Any] = {
        "corpus": {
            "name": text.name,
            "files": text.files,
            "characters": len(text.text),
            "tokens": len(ids),
            "train_tokens": len(splits.train),
            "val_tokens": len(splits.val),
        },
        "tokenizer": {"kind": tok.kind, "vocab_size": tok.vocab_size},
        "budget": budget,
        "config": {
            "transformer": asdict(cfg),
            "lstm": asdict(lstm_cfg),
            "batch_size": 32,
            "learning_rate": LEARNING_RATES,
        },
        "sampling": sampling,
        "probe": probe,
        "attention": {"sentence": sentence, "layer": cfg.n_layer},
        **results,
    }
    report.write_report(out, metrics, attention[-1], D.token_pieces(tok, sentence_ids))
    say(f"report: {out / 'report.md'}")
    return metrics


def _checked_out(minutes: float, tokenizer: str, out: Path | str) -> Path:
    """Refuse bad options before any work; returns the report folder."""
    if not minutes > 0:
        raise ChatforgeError(f"--minutes {minutes} is not a positive number: try --minutes 10")
    if tokenizer not in ("bpe", "char"):
        raise ChatforgeError(
            f"unknown tokenizer {tokenizer!r}: use --tokenizer bpe or --tokenizer char"
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ChatforgeError(f"--out {out} is a file: give a folder path for the report")
    return out


def _train_models(
    models: dict[str, nn.Module],
    splits: D.Splits,
    block_size: int,
    budget: dict[str, Any],
    seed: int,
    device: torch.device,
    log: Log | None,
) -> dict[str, dict[str, Any]]:
    """Each model trained for the same seconds on the same batches; its TrainResult as a dict."""
    results: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        if log:
            log(f"training the {name} for {budget['lm_seconds_per_model']:.0f} s on {device}")
        torch.manual_seed(seed)
        res = train_lm(
            model,
            splits,
            budget["lm_seconds_per_model"],
            block_size=block_size,
            lr=LEARNING_RATES[name],
            seed=seed,
            device=device,
            log=log,
        )
        results[name] = asdict(res)
    return results


def _sample(
    models: dict[str, nn.Module],
    tok: D.Tokenizer,
    val: torch.Tensor,
    block_size: int,
    seed: int,
    device: torch.device,
    results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Each model continues the same validation prompt (into ``results``); returns the settings."""
    prompt_ids = val[: min(8, block_size)].tolist()
    sampling = {
        "temperature": 0.8,
        "seed": seed,
        "new_tokens": 120,
        "prompt": tok.decode(prompt_ids),
    }
    for name, model in models.items():
        gen = torch.Generator().manual_seed(seed)
        idx = torch.tensor([prompt_ids], device=device)
        full = generate(model, idx, sampling["new_tokens"], sampling["temperature"], gen)
        results[name]["sample"] = tok.decode(full[0].tolist())
    return sampling


def _attention(
    gpt: nn.Module, tok: D.Tokenizer, val: torch.Tensor, device: torch.device
) -> tuple[str, list[int], list[torch.Tensor]]:
    """A validation sentence, its token ids and the Transformer's attention maps over it."""
    assert isinstance(gpt, GPT)
    sentence = _attention_sentence(tok, tok.decode(val.tolist()))
    sentence_ids = tok.encode(sentence)[: gpt.config.block_size]
    return sentence, sentence_ids, gpt.attention_maps(torch.tensor(sentence_ids, device=device))


def _probe(
    cfg: GPTConfig,
    budget: dict[str, Any],
    seed: int,
    device: torch.device,
    say: Log,
    results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Small models of each kind trained and scored on recall (into ``results``); the task."""
    task = P.RecallTask(seq_len=cfg.block_size + 2)  # room for KEY and QUERY around D=context
    distances = P.default_distances(task.seq_len)
    probe_cfg = GPTConfig(
        vocab_size=task.vocab_size, block_size=task.seq_len, n_layer=2, n_head=cfg.n_head, n_embd=64
    )
    probe_models: dict[str, nn.Module] = {
        "lstm": LSTMLM(lstm_config_matching(probe_cfg)),
        "transformer": GPT(probe_cfg),
    }
    for name, model in probe_models.items():
        say(
            f"probe: training the {name} for {budget['probe_seconds_per_model']:.0f} s on "
            f"recall at distances {distances}"
        )
        torch.manual_seed(seed)
        stats = P.train_probe(
            model,
            task,
            distances,
            budget["probe_seconds_per_model"],
            lr=LEARNING_RATES[name],
            seed=seed,
            device=device,
        )
        acc = P.evaluate_probe(model, task, distances, device=device)
        results[name]["probe"] = {
            "params": count_params(model),
            **stats,
            "accuracy": {str(k): v for k, v in acc.items()},
        }
        say("  accuracy " + ", ".join(f"D={k}: {v:.2f}" for k, v in acc.items()))
    return {
        "task": "recall the value after KEY, D tokens before QUERY",
        "n_values": task.n_values,
        "n_noise": task.n_noise,
        "seq_len": task.seq_len,
        "distances": distances,
        "chance": task.chance,
        "config": {
            "transformer": asdict(probe_cfg),
            "lstm": asdict(lstm_config_matching(probe_cfg)),
        },
    }
