"""Bot: one folder (chatforge.yaml + data/) with its settings, store, embedder and retriever.

Every shell (CLI, server, notebooks) goes through this class; parts load on first use so that
listing sources does not pay for loading a model. A caller that already holds a part (a server's
shared embedder, a model opened with several slots, a fine-tuned model to compare) hands it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import cached_property, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from chatforge.chat.engine import ChatEngine
from chatforge.config import CONFIG_FILE, IngestSettings, Settings
from chatforge.embed import Embedder
from chatforge.errors import ConfigError
from chatforge.ingest.pipeline import Ingestor, Progress
from chatforge.ingest.sources import forget_file
from chatforge.profiles import LANGUAGES, PROFILES, render_yaml, settings_for
from chatforge.retrieve import Filters, Retriever
from chatforge.schema import Hit, IngestReport
from chatforge.store.sqlite import SQLiteStore, StoredDocument

if TYPE_CHECKING:
    from chatforge.chat.conversations import ConversationStore
    from chatforge.chat.memory import MemoryStore
    from chatforge.llm.base import LLM

P = ParamSpec("P")
R = TypeVar("R")


def _chat_method(
    method: Callable[Concatenate[ChatEngine, P], R],
) -> Callable[Concatenate[Bot, P], R]:
    """The bot's `ask`, `stream` and `prepare`: the chat engine's, with the same signature and
    docstring, so each is written (and documented) once."""

    @wraps(method)
    def call(self: Bot, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self.chat, *args, **kwargs)

    return call


class Bot:
    """A chatbot's memory and configuration, kept in one folder."""

    def __init__(
        self,
        folder: str | Path,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        store: SQLiteStore | None = None,
    ) -> None:
        """Open the bot in `folder`; parts not handed in are opened from `settings` on first use."""
        self.folder = Path(folder)
        self.settings = settings or Settings.load(self.folder)
        self._embedder = embedder
        self._llm = llm
        self._store = store

    @classmethod
    def init(
        cls,
        folder: str | Path,
        profile: str = "general",
        exist_ok: bool = False,
        language: str = "en",
    ) -> Bot:
        """Create a bot folder with a documented chatforge.yaml for the profile, and the
        embedding model for the language its documents and users speak (see profiles)."""
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        if language not in LANGUAGES:
            raise ConfigError(
                f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}"
            )
        folder = Path(folder)
        config = folder / CONFIG_FILE
        if config.exists() and not exist_ok:
            raise ConfigError(f"{config} already exists; open it instead, or pick another folder")
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder} is a file; give a folder for the bot")
        (folder / "data").mkdir(parents=True, exist_ok=True)
        if not config.exists():
            config.write_text(render_yaml(settings_for(profile, language)), encoding="utf-8")
        return cls(folder)

    @classmethod
    def open(cls, folder: str | Path) -> Bot:
        return cls(folder)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = open_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> SQLiteStore:
        if self._store is None:
            self._store = open_store(self.folder, self.settings, lambda: self.embedder.dim)
        return self._store

    def _check_vectors(self) -> None:
        """Refuse a store whose vectors are not all of the configured model."""
        from chatforge.reembed import interrupted

        if model := interrupted(self.data_dir, self.store):
            raise ConfigError(
                f"re-embedding this bot with {model} was interrupted; "
                "run `chatforge reindex --reembed` to finish it"
            )
        self.store.check_model()

    @cached_property
    def retriever(self) -> Retriever:
        self._check_vectors()
        return Retriever(self.store, self.embedder, self.settings.retrieve)

    @property
    def llm(self) -> LLM:
        """The language model named by settings.llm, opened on first use."""
        if self._llm is None:
            self._llm = open_configured_llm(self.settings)
        return self._llm

    @cached_property
    def conversations(self) -> ConversationStore:
        from chatforge.chat.conversations import ConversationStore

        return ConversationStore(self.store)

    @cached_property
    def memory(self) -> MemoryStore:
        from chatforge.chat.memory import MemoryStore

        return MemoryStore(self.store, lambda: self.embedder)

    @cached_property
    def chat(self) -> ChatEngine:
        """The chat engine over this bot's parts; the models open when a turn first needs them."""
        from chatforge.agent.loop import agent_stream

        return ChatEngine(
            self.settings,
            self.store,
            self.conversations,
            self.memory,
            search=self.search,
            embedder=lambda: self.embedder,
            llm=lambda: self.llm,
            agent=agent_stream,
        )

    ask = _chat_method(ChatEngine.ask)
    stream = _chat_method(ChatEngine.stream)
    prepare = _chat_method(ChatEngine.prepare)

    def ingest(
        self,
        paths: Sequence[str | Path],
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        prune: bool = False,
        progress: Progress | None = None,
        settings: IngestSettings | None = None,
    ) -> IngestReport:
        """Add or update files and folders; unchanged files are skipped without re-embedding.

        `settings` replaces the bot's ingest settings for this run (e.g. the CLI's --tag)."""
        settings = settings or self.settings.ingest
        self._check_vectors()  # new vectors beside another model's would be compared with them
        ingestor = Ingestor(self.store, self.embedder, settings, progress)
        return ingestor.run([str(p) for p in paths], include, exclude, prune)

    def search(
        self, query: str, k: int | None = None, filters: Filters | dict | None = None
    ) -> list[Hit]:
        """Hybrid search; `filters` may give `source`, a glob over document paths."""
        if isinstance(filters, dict):
            filters = Filters(**filters)
        return self.retriever.search(query, k, filters)

    def sources(self, source_glob: str | None = None) -> list[StoredDocument]:
        return self.store.documents(source_glob)

    def forget(self, path: str) -> bool:
        """Remove one file's documents, under any spelling of its path; True if it was there."""
        found = forget_file(self.store, path)
        if found:
            self.store.collect_garbage()
            self.store.save_index()
        return found

    def reindex(
        self, reembed: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuild the vector index from SQLite; with `reembed`, recompute every vector first
        (resumable: see chatforge.reembed), calling `progress(done, total)` as chunks are done."""
        if reembed:
            from chatforge.reembed import reembed as run

            run(self.data_dir, self.store, self.embedder, self.settings.embed.model, progress)
        else:
            self._check_vectors()
        self.store.rebuild_index()
        return self.store.chunk_count()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Bot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_embedder(settings: Settings) -> Embedder:
    """The embedding model of `settings.embed`."""
    e = settings.embed
    if e.url:
        from chatforge.embed_remote import RemoteEmbedder

        return RemoteEmbedder(e.model, e.url, e.remote_model, batch_size=e.batch_size)
    return Embedder(
        e.model, device=e.device, dtype=e.dtype, batch_size=e.batch_size, backend=e.backend
    )


def open_store(
    folder: str | Path,
    settings: Settings,
    dim: Callable[[], int],
    write_guard: AbstractContextManager[Any] | None = None,
) -> SQLiteStore:
    """The store of the bot in `folder`; `dim` gives the vector size when none is recorded yet,
    and `write_guard` is held around each change to the documents (see SQLiteStore)."""
    s = settings.store
    if s.backend == "postgres":
        from chatforge.store.postgres import PostgresStore

        if not s.url:
            raise ConfigError(
                "store.backend is postgres but store.url is empty; set it, e.g. "
                "`chatforge config set store.url postgresql://USER:PASSWORD@HOST:5432/DB`"
            )
        graph = (s.hnsw_m, s.hnsw_ef_construction)
        return PostgresStore(s.url, settings.embed.model, dim, write_guard, s.ef_search, graph)  # type: ignore[return-value]
    return SQLiteStore(
        Path(folder) / "data",
        model=settings.embed.model,
        dim=dim,
        index_kind=s.index,
        hnsw_threshold=s.hnsw_threshold,
        write_guard=write_guard,
    )


def open_configured_llm(settings: Settings, slots: int = 1, prompt_cache: bool = True) -> LLM:
    """Open the model of `settings.llm`; `slots` > 1 lets llama.cpp write that many answers
    together, reusing cached prompt starts if `prompt_cache` (a server's settings,
    `server.parallel` and `server.prompt_cache`)."""
    from chatforge.llm import open_llm

    s = settings.llm
    return open_llm(
        s.model,
        backend=s.backend,
        n_ctx=s.n_ctx,
        remote_model=s.remote_model,
        quant=s.quant,
        slots=slots,
        prompt_cache=prompt_cache,
    )
