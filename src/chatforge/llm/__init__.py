"""Language model backends behind one small protocol."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from chatforge.errors import ModelError
from chatforge.llm.base import LLM, Generation, GenOptions, Message, Stream
from chatforge.models import (
    BUILTIN_MODELS,
    ResolvedModel,
    as_quant,
    finetuned_models,
    is_url,
    merged_path,
    resolve_llm,
)

__all__ = [
    "BACKENDS",
    "LLM",
    "GenOptions",
    "Generation",
    "Message",
    "Stream",
    "hf_folder",
    "list_models",
    "open_llm",
]

BACKENDS = ("auto", "llamacpp", "transformers", "http")

log = logging.getLogger(__name__)


def hf_folder(model: str) -> Path:
    """A local transformers folder for ``model``: any spec but a URL (see
    :func:`chatforge.models.resolve_llm`); a fine-tuned run gives its merged folder.

    GGUF files are dequantized once into a plain safetensors folder in the chatforge cache, the
    form that training, evaluation and the transformers backend all read.
    """
    resolved = resolve_llm(model)
    path = resolved.local_path()
    if resolved.run is not None:
        return merged_path(resolved.run)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{model} has no config.json; give a transformers model folder")
        return path
    from chatforge.llm.transformers_backend import hf_folder_for_gguf

    return hf_folder_for_gguf(path)


def _has_llama_cpp() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def open_llm(
    model: str | ResolvedModel,
    *,
    backend: str = "auto",
    n_ctx: int = 4096,
    remote_model: str | None = None,
    adapter: str | None = None,
    device: str = "auto",
    quant: str = "q8_0",
    slots: int = 1,
    prompt_cache: bool = True,
) -> LLM:
    """Open ``model``: any spec :func:`chatforge.models.resolve_llm` takes, or its result.

    ``auto`` picks llama.cpp for GGUF files (transformers when llama_cpp is missing or an
    adapter is given), transformers for folders and the OpenAI-compatible client for URLs.
    Models are loaded once per process and shared. llama.cpp runs a built-in model from the
    GGUF that ``quant`` names (see :func:`chatforge.models.requantized`), and decodes up to
    ``slots`` completions together, starting each from the longest cached prompt it begins
    with if ``prompt_cache`` (see :mod:`chatforge.llm.batch`).
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown llm backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    spec = model.spec if isinstance(model, ResolvedModel) else model
    if backend == "http" and not is_url(spec):
        raise ModelError(f"backend 'http' needs an http(s):// URL, not {spec!r}")
    resolved = model if isinstance(model, ResolvedModel) else resolve_llm(model)
    if resolved.path is None:
        from chatforge.llm.openai_http import OpenAIHTTPLLM

        return OpenAIHTTPLLM(resolved.spec, remote_model, context_window=n_ctx)
    path, name = resolved.path, resolved.name
    if backend == "auto":
        backend = "llamacpp" if path.is_file() and not adapter else "transformers"
        if backend == "llamacpp" and not _has_llama_cpp():
            log.warning(
                "llama_cpp is not installed; running %s with transformers (slower). "
                "pip install llama-cpp-python",
                name,
            )
            backend = "transformers"
    template = resolved.chat_template
    if backend == "transformers":
        from chatforge.llm.transformers_backend import TransformersLLM

        return TransformersLLM(
            path, n_ctx=n_ctx, adapter=adapter, device=device, chat_template=template, name=name
        )
    if resolved.kind == "builtin":
        path = as_quant(path, quant)
    if path.is_dir():
        raise ModelError(f"{spec} is a folder; llama.cpp needs a .gguf file")
    if adapter:
        raise ModelError("adapters run with backend 'transformers'; set llm.backend")
    from chatforge.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(
        path,
        n_ctx=n_ctx,
        chat_template=template,
        name=name,
        n_gpu_layers=0 if device == "cpu" else -1,
        slots=slots,
        prompt_cache=prompt_cache,
    )


def _probe(resolved: ResolvedModel) -> str:
    """Check cheaply that ``resolved`` would load; return its location on disk (or URL)."""
    if resolved.path is None:
        import httpx

        from chatforge.llm.openai_http import api_base

        url = f"{api_base(resolved.spec)}/models"
        try:
            httpx.get(url, timeout=3.0).raise_for_status()
        except httpx.HTTPError as e:
            raise ModelError(f"cannot reach {url}: {e}") from e
        return resolved.spec
    path = resolved.path
    if path.is_dir():
        from transformers import AutoConfig

        try:
            AutoConfig.from_pretrained(path)
        except (OSError, ValueError) as e:
            raise ModelError(f"{path} is not a transformers model folder: {e}") from e
    elif _has_llama_cpp():
        from llama_cpp import Llama

        try:
            Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"cannot load {path} with llama.cpp: {e}") from e
    return str(path)


def list_models(configured: str | None = None) -> list[dict[str, Any]]:
    """Built-in models and the configured one: where each is and whether it loads.

    Loading is checked cheaply (the vocabulary of a GGUF, the config of a folder, ``/models``
    of a server); ``error`` holds the one-line reason when it fails.
    """
    rows: list[dict[str, Any]] = []
    wanted = [*BUILTIN_MODELS, *([configured] if configured not in (None, *BUILTIN_MODELS) else [])]
    for model in wanted:
        info = BUILTIN_MODELS.get(model)
        row: dict[str, Any] = {
            "name": model,
            "builtin": info is not None,
            "configured": model == configured,
            "description": info.description if info else "",
            "package": info.package if info else None,
            "license": info.license if info else None,
            "path": None,
            "loads": False,
            "error": None,
        }
        try:
            row["path"] = _probe(resolve_llm(model))
            row["loads"] = True
        except ModelError as e:
            row["error"] = str(e)
        rows.append(row)
    for ft in finetuned_models():
        listed = next((r for r in rows if r["path"] == ft["path"]), None)
        row = listed or {"name": ft["name"], "builtin": False, "configured": False}
        row.update(description=f"fine-tuned from {ft['base']}", package=None, license=None)
        row.update(path=ft["path"], loads=True, error=None)
        if listed is None:
            rows.append(row)
    return rows
