"""LangChain's standard integration tests for chat models (the `langchain-tests` package), run
on `ChatOpenAI` pointed at `chatforge serve` over real HTTP, with the bot's default model.

They are the checks LangChain asks of any chat model it lists: invoking, streaming, batching,
usage, stop sequences, conversations, and tool calling (a call with arguments, one without,
`tool_choice`, tool results in the history, an agent loop). The flags below say what the server
does not offer (images, PDFs, audio, another model per call); their tests are skipped.
"""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_tests")

from langchain_openai import ChatOpenAI  # noqa: E402
from langchain_tests.integration_tests import ChatModelIntegrationTests  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(serve_bot_dir, embedder, serve_llm):
    """One server for the module, over the shared bot and model."""
    from servesupport import LiveServer

    from chatforge.bot import Bot

    bot = Bot(serve_bot_dir, embedder=embedder, llm=serve_llm)
    bot.settings.memory.summarize_every = 0
    server = LiveServer(bot)
    yield server
    server.stop()
    bot.close()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.filterwarnings("ignore:The test <Function .* is marked with '@pytest.mark.asyncio'")
class TestChatforgeServer(ChatModelIntegrationTests):
    """The suite's async tests share one event loop: ChatOpenAI keeps one async HTTP client per
    URL for the whole process, and that client fails on any loop but the one it opened on. The
    mark reaches the suite's plain tests too, where it does nothing (hence the warning filter)."""

    url = ""

    @pytest.fixture(autouse=True)
    def _server(self, live) -> None:
        type(self).url = live.url  # read by chat_model_params, which the suite calls itself

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict:
        return {
            "base_url": f"{self.url}/v1",
            "model": "default",
            "api_key": "local",
            "timeout": 120,
            "stream_usage": True,
        }

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def tool_choice_value(self) -> str:
        """Tests that ask for a call force one, as a client does with `tool_choice`."""
        return "any"

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False
