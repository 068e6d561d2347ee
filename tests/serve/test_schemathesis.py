"""Schemathesis against /openapi.json: generated valid and invalid requests never get a 5xx.

Every operation of the OpenAPI document is fuzzed with a bounded number of examples, both
schema-conforming (positive) and schema-violating (negative).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from servesupport import LiveServer

EXAMPLES = 6


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, embedder, serve_llm):
    """A server over its own empty bot (generated uploads and deletes touch nothing shared)."""
    from chatforge.bot import Bot

    folder = Bot.init(tmp_path_factory.mktemp("fuzz") / "bot", "general").folder
    bot = Bot(folder, embedder=embedder, llm=serve_llm)
    bot.settings.llm.max_tokens = 4
    bot.settings.chat.mode = "generate"
    bot.settings.memory.summarize_every = 0
    bot.settings.server.max_tokens = 4  # generated answers stay a few tokens long
    live = LiveServer(bot)
    yield live
    live.stop()
    bot.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error(api_server, mode):
    schema = schemathesis.openapi.from_url(api_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    failures: list[str] = []
    fuzzed = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case) -> None:
            response = case.call(base_url=api_server.url, timeout=60)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            else:
                assert response.status_code < 500
                if response.status_code >= 400:
                    assert response.json()["error"]["message"]

        try:
            fuzz()
        except Unsatisfiable:  # nothing to get wrong (e.g. GET /health has no input)
            assert mode is GenerationMode.NEGATIVE
            continue
        fuzzed += 1
    assert failures == []
    assert fuzzed >= 12
