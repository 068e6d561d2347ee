"""Embeddings from an OpenAI-compatible `/v1/embeddings` server (`embed.url`).

vLLM, text-embeddings-inference, llama.cpp's server and chatforge's own server all answer it,
so many chatforge processes can share one embedding model on one machine with a GPU. The bot's
`embed.model` still names the model: its tokenizer, read from the local model folder without
loading the model, sizes chunks and counts tokens, and the vectors are recorded under that name
(a server running another model would mix vectors, which the store refuses). Texts are sent as
they are: a model that wants query and passage prefixes (E5) gets them from its server.

A connection error or a 5xx answer is retried a few times with backoff (tenacity); then one
line names the server and the setting to check. Ingestion embeds before it writes, so a server
that goes away leaves nothing half-stored.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from chatforge.embed import Embedder
from chatforge.errors import ModelError

RETRIES = 3
API_KEY_ENV = "CHATFORGE_EMBED_API_KEY"
"""Sent as a bearer token when set (the remote server's key, never stored in chatforge.yaml)."""


def api_base(url: str) -> str:
    """`url` as the base that `/embeddings` is appended to: http://host:port/v1."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class RemoteEmbedder(Embedder):
    """An Embedder whose vectors come from a server; tokenizing stays local."""

    def __init__(
        self, model: str, url: str, remote_model: str | None = None, batch_size: int = 64
    ) -> None:
        super().__init__(model, device="cpu", batch_size=batch_size, backend="torch")
        self.url = api_base(url)
        self.remote_model = remote_model or model
        self.backend = "remote"

    @cached_property
    def tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        path = Path(self.path) / "tokenizer.json"
        if not path.is_file():
            raise ModelError(
                f"embed.url needs the tokenizer of {self.name} locally ({path} is missing); "
                "set embed.model to a built-in model or a local folder"
            )
        plain = Tokenizer.from_file(str(path))
        plain.no_truncation()
        plain.no_padding()
        return plain

    @property
    def max_tokens(self) -> int:
        config = Path(self.path) / "sentence_bert_config.json"
        limit = json.loads(config.read_text())["max_seq_length"] if config.is_file() else 512
        return int(limit) - 2

    @cached_property
    def _dim(self) -> int:
        return int(self._post(["dimension"]).shape[1])

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str], progress: Any, bulk: bool, query: bool) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            out.append(self._post(batch))
            if progress is not None:
                progress(len(batch))
        vectors = np.concatenate(out)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        return vectors

    def _post(self, texts: list[str]) -> np.ndarray:
        """One request, retried on connection errors and 5xx answers."""
        import httpx
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential,
        )

        key = os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {"model": self.remote_model, "input": texts}

        def transient(e: BaseException) -> bool:
            return isinstance(e, httpx.TransportError) or (
                isinstance(e, httpx.HTTPStatusError) and e.response.status_code >= 500
            )

        try:
            for attempt in Retrying(
                stop=stop_after_attempt(RETRIES),
                wait=wait_exponential(multiplier=0.2, max=2),
                retry=retry_if_exception(transient),
                reraise=False,
            ):
                with attempt:
                    r = httpx.post(
                        f"{self.url}/embeddings", json=body, headers=headers, timeout=120
                    )
                    r.raise_for_status()
        except RetryError as e:
            raise self._error(e.last_attempt.exception()) from None
        except httpx.HTTPError as e:
            raise self._error(e) from None
        data = sorted(r.json()["data"], key=lambda d: d["index"])
        return np.array([d["embedding"] for d in data], dtype=np.float32)

    def _error(self, e: BaseException | None) -> ModelError:
        import httpx

        if isinstance(e, httpx.HTTPStatusError):
            try:
                said = e.response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                said = e.response.text[:200]
            why = f"it answered {e.response.status_code}: {said}"
        else:
            why = " ".join(str(e).split()) or type(e).__name__
        return ModelError(
            f"the embedding server at {self.url} failed ({why}); check embed.url and that the "
            f"server runs {self.remote_model} (embed.remote_model)"
        )
