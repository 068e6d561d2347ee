"""chatforge.langchain: the retriever and the embeddings pass langchain-tests' standard suites
over a real bot, and carry chatforge's filters and metadata, in English and French."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)

from chatforge.bot import Bot
from chatforge.langchain import ChatforgeEmbeddings, ChatforgeRetriever


@pytest.fixture
def shop_bot(agent_bot_dir, embedder):
    bot = Bot(agent_bot_dir, embedder=embedder)
    yield bot
    bot.close()


class TestChatforgeRetriever(RetrieversIntegrationTests):
    bot: Bot | None = None

    @pytest.fixture(autouse=True)
    def _bot(self, shop_bot):
        type(self).bot = shop_bot

    @property
    def retriever_constructor(self) -> type[ChatforgeRetriever]:
        return ChatforgeRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"bot": type(self).bot}

    @property
    def retriever_query_example(self) -> str:
        return "What does the widget cost?"


class TestChatforgeEmbeddings(EmbeddingsIntegrationTests):
    bot: Bot | None = None

    @pytest.fixture(autouse=True)
    def _bot(self, shop_bot):
        type(self).bot = shop_bot

    @property
    def embeddings_class(self) -> type[ChatforgeEmbeddings]:
        return ChatforgeEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"bot": type(self).bot}


def test_documents_carry_source_score_and_the_filter_applies(shop_bot):
    retriever = ChatforgeRetriever(bot=shop_bot, k=2)
    [best, *_] = retriever.invoke("Combien d'employés à Lyon ?")
    assert best.metadata["source"] == "magasins/equipes.md"
    assert best.metadata["title"] == "Équipes" and best.metadata["score"] > 0
    text = best.page_content
    assert "14 employés" in text and best.metadata["end"] > best.metadata["start"]
    only_shop = retriever.invoke("Combien d'employés à Lyon ?", source="shop/*")
    assert only_shop and all(d.metadata["source"].startswith("shop/") for d in only_shop)


def test_query_and_document_vectors_are_the_bots(shop_bot):
    embeddings = ChatforgeEmbeddings(shop_bot)
    [doc] = embeddings.embed_documents(["The widget costs 12.50 euros."])
    query = embeddings.embed_query("prix du widget")
    assert len(doc) == len(query) == shop_bot.embedder.dim
    assert embeddings.embed_documents([]) == []
