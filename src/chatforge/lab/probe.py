"""A long-range dependency probe: can a model recall a token seen D positions ago?

Each sequence is noise, except for a KEY marker followed by a value token somewhere, and a QUERY
marker at the very end. The answer is the value, which sits exactly D tokens before the query:

    noise noise KEY v noise noise ... noise QUERY   ->  v

A Transformer's last position can attend straight to the value, however far back it is. An
LSTM has to carry the value in its state through D updates, and has to learn to do so from a
gradient that also travels back through D steps. Accuracy is measured per distance, choosing
among the value tokens only, so chance is 1 / n_values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class RecallTask:
    n_values: int = 8
    n_noise: int = 16
    seq_len: int = 130  # the query's position is seq_len - 1; distances go up to seq_len - 2

    # Token ids: values first, then noise, then the two markers.
    @property
    def key_id(self) -> int:
        return self.n_values + self.n_noise

    @property
    def query_id(self) -> int:
        return self.key_id + 1

    @property
    def vocab_size(self) -> int:
        return self.n_values + self.n_noise + 2

    @property
    def chance(self) -> float:
        return 1.0 / self.n_values

    def sample(
        self, distances: list[int], batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch of (sequences, answers, distances), the distance of each drawn from the list."""
        if max(distances) > self.seq_len - 2 or min(distances) < 1:
            raise ValueError(f"distances must lie in 1..{self.seq_len - 2}")
        T = self.seq_len
        x = torch.randint(
            self.n_values, self.n_values + self.n_noise, (batch_size, T), generator=generator
        )
        d = torch.tensor(distances)[
            torch.randint(len(distances), (batch_size,), generator=generator)
        ]
        y = torch.randint(self.n_values, (batch_size,), generator=generator)
        rows = torch.arange(batch_size)
        x[rows, T - 1 - d] = y
        x[rows, T - 2 - d] = self.key_id
        x[:, -1] = self.query_id
        return x, y, d


def default_distances(context: int) -> list[int]:
    """8, 16, 32, ... up to what fits in the models' context (the KEY and QUERY need room)."""
    out, d = [], 8
    while d <= context - 2:
        out.append(d)
        d *= 2
    return out


def train_probe(
    model: nn.Module,
    task: RecallTask,
    distances: list[int],
    budget_s: float,
    *,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    max_steps: int | None = None,
) -> dict[str, float]:
    """Train on the recall task for a wall-clock budget; the loss is on the answer only.

    `max_steps` also stops it after that many steps (a repeatable run for tests).
    """
    model.to(device).train()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    steps, elapsed, loss_value = 0, 0.0, float("nan")
    while elapsed < budget_s and (max_steps is None or steps < max_steps):
        start = time.perf_counter()
        x, y, _ = task.sample(distances, batch_size, gen)
        logits, _ = model(x.to(device))
        loss = F.cross_entropy(logits[:, -1, :], y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()  # also waits for the device, so the clock below is honest
        elapsed += time.perf_counter() - start
        steps += 1
    return {
        "steps": steps,
        "seconds": elapsed,
        "final_loss": loss_value,
        "sequences": steps * batch_size,
    }


@torch.no_grad()
def evaluate_probe(
    model: nn.Module,
    task: RecallTask,
    distances: list[int],
    *,
    n_per_distance: int = 256,
    seed: int = 1234,
    device: torch.device | str = "cpu",
) -> dict[int, float]:
    """Accuracy per distance: the share of sequences whose best-scored value is the answer.

    `model(x)` must return `(logits, ...)` with logits of shape (B, T, vocab), the lab's
    convention; any module following it can be probed.
    """
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    acc = {}
    for dist in distances:
        x, y, _ = task.sample([dist], n_per_distance, gen)
        logits = model(x.to(device))[0][:, -1, : task.n_values]
        acc[dist] = (logits.argmax(-1).cpu() == y).float().mean().item()
    return acc
