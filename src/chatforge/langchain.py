"""LangChain over a bot: a retriever (the bot's hybrid search, with its source filter) and
the bot's embedding model as `Embeddings`, for chains and LangGraph agents built elsewhere.

    from chatforge import Bot
    from chatforge.langchain import ChatforgeEmbeddings, ChatforgeRetriever

    bot = Bot("mybot")
    docs = ChatforgeRetriever(bot=bot, k=3, source="guide/*").invoke("install the widget")

Each Document carries the passage's text, and in its metadata its source path, title,
section, score, character offsets and ids, as `chatforge search` shows them. The chat model
itself is reached through `chatforge serve` and langchain-openai's ChatOpenAI (function calling
included).
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from chatforge.bot import Bot
from chatforge.schema import Hit


def hit_document(hit: Hit) -> Document:
    """A search hit as a LangChain Document."""
    metadata = {
        "source": hit.source,
        "title": hit.title,
        "section": hit.section,
        "score": float(hit.score),
        "start": hit.start,
        "end": hit.end,
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
    }
    return Document(page_content=hit.text, metadata=metadata, id=str(hit.chunk_id))


class ChatforgeRetriever(BaseRetriever):
    """The bot's hybrid search. `k` passages (default retrieve.k), only from documents whose
    path matches the glob `source` when given; both may also be passed to `invoke`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bot: Bot
    k: int | None = None
    source: str | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        source: str | None = None,
    ) -> list[Document]:
        filters = {"source": source or self.source}
        hits = self.bot.search(query, k or self.k, filters)
        return [hit_document(h) for h in hits]


class ChatforgeEmbeddings(Embeddings):
    """The bot's embedding model: documents as it stores them, queries as it searches."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.bot.embedder.encode(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.bot.embedder.encode_query(text).tolist()
