"""The long-range recall probe, checked against models built to pass and to fail."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from chatforge.lab.models import GPT, GPTConfig
from chatforge.lab.probe import RecallTask, default_distances, evaluate_probe, train_probe

TASK = RecallTask(seq_len=66)
DISTANCES = default_distances(TASK.seq_len)


class Oracle(nn.Module):
    """Reads the token after KEY and puts all its weight on it: a perfect recaller."""

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, None]:
        B, T = idx.shape
        key_pos = (idx == TASK.key_id).int().argmax(dim=1)
        value = idx[torch.arange(B), key_pos + 1]
        logits = torch.zeros(B, T, TASK.vocab_size)
        logits[torch.arange(B), -1, value] = 10.0
        return logits, None


class Uniform(nn.Module):
    """The same score for every token: knows nothing, so it can only match chance."""

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.zeros(*idx.shape, TASK.vocab_size), None


def test_distances_double_up_to_the_context() -> None:
    assert DISTANCES == [8, 16, 32, 64]
    assert default_distances(130) == [8, 16, 32, 64, 128]


def test_the_value_sits_exactly_d_tokens_before_the_query() -> None:
    x, y, d = TASK.sample(DISTANCES, 64, torch.Generator().manual_seed(0))
    T = TASK.seq_len
    rows = torch.arange(64)
    assert torch.all(x[:, -1] == TASK.query_id)
    assert torch.equal(x[rows, T - 1 - d], y)
    assert torch.all(x[rows, T - 2 - d] == TASK.key_id)
    assert torch.all((x == TASK.key_id).sum(1) == 1)  # one KEY per sequence
    assert torch.all(y < TASK.n_values)


def test_sampling_rejects_distances_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        TASK.sample([TASK.seq_len - 1], 4, torch.Generator())


def test_an_oracle_scores_perfectly_at_every_distance() -> None:
    acc = evaluate_probe(Oracle(), TASK, DISTANCES)
    assert acc == {d: 1.0 for d in DISTANCES}


def test_a_model_that_knows_nothing_scores_at_chance() -> None:
    acc = evaluate_probe(Uniform(), TASK, DISTANCES, n_per_distance=1024)
    for d in DISTANCES:
        assert abs(acc[d] - TASK.chance) < 0.05


def test_training_on_the_probe_runs_and_reports_its_work() -> None:
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(
            vocab_size=TASK.vocab_size, block_size=TASK.seq_len, n_layer=1, n_head=2, n_embd=16
        )
    )
    stats = train_probe(model, TASK, DISTANCES, budget_s=600, batch_size=8, max_steps=3)
    assert stats["steps"] == 3 and stats["sequences"] == 24
    assert set(evaluate_probe(model, TASK, DISTANCES, n_per_distance=8)) == set(DISTANCES)
