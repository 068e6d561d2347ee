"""Agent fixtures: one bot over a shop's English and French documents, with the default model
(qwen) opened once for the whole directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import build_bot

SHOP = {
    "shop/prices.md": (
        "# Price list\n\nThe widget costs 12.50 euros. The gadget costs 7.25 euros. "
        "Shipping is free above 50 euros.\n"
    ),
    "shop/stock.md": (
        "# Stock\n\nThe warehouse holds 340 widgets and 125 gadgets. A delivery of 60 widgets "
        "arrives on 2025-03-14.\n"
    ),
    "magasins/equipes.md": (
        "# Équipes\n\nLe magasin de Lyon compte 14 employés et celui de Paris 23 employés. "
        "La boutique ouvre à 9 heures et ferme à 18 heures.\n"
    ),
}


@pytest.fixture(scope="session")
def agent_llm():
    from chatforge.config import Settings
    from chatforge.llm import open_llm

    return open_llm(Settings().llm.model)


@pytest.fixture(scope="session")
def agent_bot_dir(tmp_path_factory, embedder) -> Path:
    return build_bot(tmp_path_factory.mktemp("agent"), SHOP, embedder)


@pytest.fixture
def agent_bot(agent_bot_dir, embedder, agent_llm):
    """The shop bot in agent mode, with the session's models."""
    from chatforge.bot import Bot

    bot = Bot(agent_bot_dir, embedder=embedder, llm=agent_llm)
    bot.settings.chat.mode = "agent"
    bot.settings.memory.summarize_every = 0
    yield bot
    bot.close()
