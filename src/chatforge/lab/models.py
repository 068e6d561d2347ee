"""Two language models, each small enough to read in one sitting.

`GPT` is a decoder-only Transformer in the style of nanoGPT: token + learned position
embeddings, a stack of pre-norm blocks (causal self-attention, then an MLP), a final norm and a
head tied to the token embedding. `LSTMLM` is the recurrent model it replaced: embedding, a
stacked LSTM, and the same tied head. Both follow one convention so the training loop, the
probe and the sampler can treat them alike:

    logits, loss = model(idx, targets)   # idx: (B, T) token ids; loss is None without targets

`lstm_config_matching` sizes the LSTM so that both models have about the same number of
parameters, which is what makes the side-by-side comparison fair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

# --------------------------------------------------------------------------------------------
# The Transformer
# --------------------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    vocab_size: int = 1024
    block_size: int = 128  # the longest context the model can see
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """Every position looks back at all earlier positions and takes a weighted mix of them.

    Written out with explicit matrix products (not a fused kernel) so the attention weights
    can be read and plotted.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # query, key, value at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # Lower-triangular mask: position t may attend to positions 0..t and never to the future.
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, config.block_size, config.block_size))
        self.last_attention: torch.Tensor | None = None
        self.keep_attention = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): each head attends in its own subspace.
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # similarity of every pair
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)  # each row sums to 1: how much t reads from each s <= t
        if self.keep_attention:
            self.last_attention = att.detach()
        y = self.attn_dropout(att) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # put the heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """A per-position feed-forward layer: where most of the parameters (and facts) live."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm block: normalize, transform, add back (the residual stream carries the rest)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """A decoder-only Transformer language model."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token -> vector
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position -> vector
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix reads and writes tokens
        self.apply(_init_weights)
        # GPT-2's scaled init for the projections that write into the residual stream.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.size()
        if self.config.block_size < T:
            raise ValueError(f"sequence of {T} tokens exceeds block_size {self.config.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return logits, _loss(logits, targets)

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every layer for one sequence: a list of (n_head, T, T)."""
        attns = [block.attn for block in self.blocks]
        for a in attns:
            a.keep_attention = True
        try:
            self(idx[None] if idx.dim() == 1 else idx[:1])
            return [a.last_attention[0].cpu() for a in attns]  # type: ignore[index]
        finally:
            for a in attns:
                a.keep_attention, a.last_attention = False, None

    @property
    def context(self) -> int:
        return self.config.block_size


# --------------------------------------------------------------------------------------------
# The LSTM
# --------------------------------------------------------------------------------------------


@dataclass
class LSTMConfig:
    vocab_size: int = 1024
    block_size: int = 128  # the LSTM has no hard limit; this is the context it is trained on
    n_layer: int = 2
    n_hidden: int = 256  # also the embedding size, so the head can be tied to the embedding
    dropout: float = 0.0


class LSTMLM(nn.Module):
    """A stacked-LSTM language model: reads left to right, carrying a fixed-size state."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_hidden)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.n_hidden,
            config.n_hidden,
            num_layers=config.n_layer,
            batch_first=True,
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.ln_f = nn.LayerNorm(config.n_hidden)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        # Inputs on the scale of the LSTM's own weights (uniform in +-1/sqrt(hidden)); the
        # Transformer's tiny 0.02 would leave the gates nearly blind to the input at first.
        nn.init.uniform_(self.wte.weight, -0.1, 0.1)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.drop(self.wte(idx))
        h, _ = self.lstm(x)  # h[:, t] depends only on idx[:, :t+1]: causal by construction
        logits = self.lm_head(self.ln_f(self.drop(h)))
        return logits, _loss(logits, targets)

    @property
    def context(self) -> int:
        return self.config.block_size


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)


def _loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    if targets is None:
        return None
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def count_params(model: nn.Module) -> int:
    """Distinct trainable parameters (a tied matrix counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lstm_config_matching(gpt: GPTConfig, n_layer: int = 2) -> LSTMConfig:
    """The LSTM whose parameter count is closest to the given GPT's, on the same vocabulary."""
    with torch.device("meta"):  # shapes only: no memory, no initialization cost
        target = count_params(GPT(gpt))

        def size(h: int) -> int:
            return count_params(LSTMLM(LSTMConfig(gpt.vocab_size, gpt.block_size, n_layer, h)))

        lo, hi = 4, 8192
        while hi - lo > 1:  # the count grows with the hidden size: bisect on it
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if size(mid) <= target else (lo, mid)
        best = min((lo, hi), key=lambda h: abs(size(h) - target))
    return LSTMConfig(gpt.vocab_size, gpt.block_size, n_layer, best, gpt.dropout)


@torch.no_grad()
def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample tokens one at a time, feeding each back in (the model only ever sees its context)."""
    model.eval()
    context = model.context  # type: ignore[attr-defined]
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -context:])
        probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
        nxt = torch.multinomial(probs.cpu(), num_samples=1, generator=generator).to(idx.device)
        idx = torch.cat((idx, nxt), dim=1)
    return idx
