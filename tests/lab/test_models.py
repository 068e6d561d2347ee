"""The lab's models, tokenizers and training loop, on tiny sizes so each test takes a second."""

from __future__ import annotations

import pytest
import torch

from chatforge.lab import data as D
from chatforge.lab.models import (
    GPT,
    LSTMLM,
    GPTConfig,
    LSTMConfig,
    count_params,
    generate,
    lstm_config_matching,
)
from chatforge.lab.train import train_lm

TINY = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a small shared machine, extra threads slow tiny models down."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [GPT(TINY), LSTMLM(LSTMConfig(vocab_size=50, block_size=16, n_layer=2, n_hidden=24))]


@pytest.mark.parametrize("model", tiny_models(), ids=["gpt", "lstm"])
def test_shapes(model: torch.nn.Module) -> None:
    x = torch.randint(0, 50, (3, 16))
    logits, loss = model(x, x)
    assert logits.shape == (3, 16, 50)
    assert loss is not None and loss.dim() == 0
    assert model(x)[1] is None


@pytest.mark.parametrize("model", tiny_models(), ids=["gpt", "lstm"])
def test_no_position_sees_the_future(model: torch.nn.Module) -> None:
    model.eval()
    x = torch.randint(0, 50, (2, 16))
    for t in (0, 5, 14):
        changed = x.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 50
        a, _ = model(x)
        b, _ = model(changed)
        assert torch.allclose(a[:, : t + 1], b[:, : t + 1], atol=1e-6)
        assert not torch.allclose(a[:, t + 1], b[:, t + 1])


def test_gpt_rejects_a_sequence_longer_than_its_context() -> None:
    with pytest.raises(ValueError, match="block_size"):
        GPT(TINY)(torch.zeros(1, 17, dtype=torch.long))


def test_attention_rows_are_distributions_over_the_past() -> None:
    maps = GPT(TINY).attention_maps(torch.randint(0, 50, (10,)))
    assert len(maps) == TINY.n_layer
    for att in maps:
        assert att.shape == (TINY.n_head, 10, 10)
        assert torch.allclose(att.sum(-1), torch.ones(TINY.n_head, 10))
        assert torch.all(att.triu(diagonal=1) == 0)


@pytest.mark.parametrize("cfg", [TINY, GPTConfig(vocab_size=1024), GPTConfig(vocab_size=90)])
def test_lstm_is_sized_to_match_the_transformer(cfg: GPTConfig) -> None:
    gpt, lstm = count_params(GPT(cfg)), count_params(LSTMLM(lstm_config_matching(cfg)))
    assert abs(gpt - lstm) / gpt < 0.10


def test_generate_extends_the_prompt_repeatably() -> None:
    model = GPT(TINY)
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 20, generator=torch.Generator().manual_seed(0))
    b = generate(model, prompt, 20, generator=torch.Generator().manual_seed(0))
    assert a.shape == (1, 23) and torch.equal(a[:, :3], prompt) and torch.equal(a, b)


@pytest.mark.parametrize("model", tiny_models(), ids=["gpt", "lstm"])
def test_a_short_training_run_lowers_the_validation_loss(model: torch.nn.Module) -> None:
    pattern = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]  # a stream any model can learn
    splits = D.split(pattern * 100, block_size=16)
    res = train_lm(
        model,
        splits,
        budget_s=600,
        block_size=16,
        batch_size=8,
        lr=1e-2,
        max_steps=40,
        n_evals=2,
        eval_batches=2,
    )
    assert res.steps == 40 and res.tokens_seen == 40 * 8 * 16
    assert res.curve[-1]["val_loss"] < 0.75 * res.curve[0]["val_loss"]


def test_char_tokenizer_round_trips() -> None:
    tok = D.make_tokenizer("char", "hello world")
    assert tok.decode(tok.encode("low old")) == "low old"
    assert tok.vocab_size == len(set("hello world"))


def test_bpe_tokenizer_learns_merges_and_round_trips() -> None:
    text = "the theory of the thing, then the other theme. " * 50
    tok = D.make_tokenizer("bpe", text, vocab_size=300)
    assert 256 < tok.vocab_size <= 300
    ids = tok.encode("the theme, then ünïcode")
    assert tok.decode(ids) == "the theme, then ünïcode"
    assert len(tok.encode("the theory")) < len("the theory")  # merged pieces, not bytes


def test_default_corpus_is_long_english_prose_on_disk() -> None:
    corpus = D.load_corpus()
    assert len(corpus.text) > 300_000
    assert "the" in corpus.text.split()
