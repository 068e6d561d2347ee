"""Language model backends behind one small protocol."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from chatforge.errors import ModelError
from chatforge.llm.base import LLM, Generation, GenOptions, Message, Stream
from chatforge.llm.builtin import BUILTIN_MODELS, BuiltinModel, as_quant, resolve_builtin

__all__ = [
    "BACKENDS",
    "BUILTIN_MODELS",
    "LLM",
    "BuiltinModel",
    "GenOptions",
    "Generation",
    "Message",
    "Stream",
    "list_models",
    "open_llm",
    "resolve_builtin",
]

BACKENDS = ("auto", "llamacpp", "transformers", "http")

log = logging.getLogger(__name__)


def _is_url(model: str) -> bool:
    return model.startswith(("http://", "https://"))


def _model_path(model: str) -> tuple[Path, str]:
    """(path on disk, chat template kind) for a built-in name (its shipped file) or a path."""
    if model in BUILTIN_MODELS:
        return resolve_builtin(model), BUILTIN_MODELS[model].chat_template
    path = Path(model).expanduser()
    if not path.exists() and _is_hub_name(model):
        folder = f"models/{model.rsplit('/', 1)[-1]}"
        raise ModelError(
            f"{model} is not on this machine and chatforge does not download models; fetch it "
            f"where you have a connection (huggingface-cli download {model} --local-dir "
            f"{folder}), copy the folder or its .gguf file here and set llm.model to that path"
        )
    if not path.exists():
        names = ", ".join(BUILTIN_MODELS)
        raise ModelError(
            f"no such model file: {model}; give a .gguf path, an HF folder, "
            f"a built-in name ({names}) or an http(s):// URL"
        )
    if path.is_file():
        with path.open("rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ModelError(
                f"{model} is not a GGUF file; give a .gguf file or a transformers model folder"
            )
    return path, "auto"


def _is_hub_name(model: str) -> bool:
    """Whether ``model`` reads like a hub repository id (``org/name``) rather than a path."""
    parts = model.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not model.startswith((".", "~"))
        and (not model.endswith(".gguf"))
    )


def hf_folder(model: str) -> Path:
    """A local transformers folder for ``model`` (a built-in name, a GGUF file or a folder).

    GGUF files are dequantized once into a plain safetensors folder in the chatforge cache, the
    form that training, evaluation and the transformers backend all read.
    """
    if _is_url(model):
        raise ModelError(f"{model} is a URL; training and evaluation need a local model")
    path, _template = _model_path(model)
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
    model: str,
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
    """Open ``model``: a built-in name, a GGUF file, a transformers folder or an http(s) URL.

    ``auto`` picks llama.cpp for GGUF files (transformers when llama_cpp is missing or an
    adapter is given), transformers for folders and the OpenAI-compatible client for URLs.
    Models are loaded once per process and shared. llama.cpp runs a built-in model from the
    GGUF that ``quant`` names (see :func:`chatforge.llm.builtin.requantized`), and decodes up to
    ``slots`` completions together, starting each from the longest cached prompt it begins
    with if ``prompt_cache`` (see :mod:`chatforge.llm.batch`).
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown llm backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if _is_url(model) or backend == "http":
        if not _is_url(model):
            raise ModelError(f"backend 'http' needs an http(s):// URL, not {model!r}")
        from chatforge.llm.openai_http import OpenAIHTTPLLM

        return OpenAIHTTPLLM(model, remote_model, context_window=n_ctx)
    path, template = _model_path(model)
    name = model if model in BUILTIN_MODELS else path.stem
    if backend == "auto":
        backend = "llamacpp" if path.is_file() and not adapter else "transformers"
        if backend == "llamacpp" and not _has_llama_cpp():
            log.warning(
                "llama_cpp is not installed; running %s with transformers (slower). "
                "pip install llama-cpp-python",
                name,
            )
            backend = "transformers"
    if backend == "llamacpp":
        if model in BUILTIN_MODELS:
            path = as_quant(path, quant)
        if path.is_dir():
            raise ModelError(f"{model} is a folder; llama.cpp needs a .gguf file")
        if adapter:
            raise ModelError("adapters run with backend 'transformers'; set llm.backend")
        from chatforge.llm.llamacpp import LlamaCppLLM

        gpu_layers = 0 if device == "cpu" else -1
        return LlamaCppLLM(
            path,
            n_ctx=n_ctx,
            chat_template=template,
            name=name,
            n_gpu_layers=gpu_layers,
            slots=slots,
            prompt_cache=prompt_cache,
        )
    from chatforge.llm.transformers_backend import TransformersLLM

    return TransformersLLM(
        path, n_ctx=n_ctx, adapter=adapter, device=device, chat_template=template, name=name
    )


def _probe(model: str) -> str:
    """Check cheaply that ``model`` would load; return its location on disk (or URL)."""
    if _is_url(model):
        import httpx

        from chatforge.llm.openai_http import api_base

        url = f"{api_base(model)}/models"
        try:
            httpx.get(url, timeout=3.0).raise_for_status()
        except httpx.HTTPError as e:
            raise ModelError(f"cannot reach {url}: {e}") from e
        return model
    path, _ = _model_path(model)
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
            row["path"] = _probe(model)
            row["loads"] = True
        except ModelError as e:
            row["error"] = str(e)
        rows.append(row)
    from chatforge.finetune.registry import finetuned_models

    for ft in finetuned_models():
        listed = next((r for r in rows if r["path"] == ft["path"]), None)
        row = listed or {"name": ft["name"], "builtin": False, "configured": False}
        row.update(description=f"fine-tuned from {ft['base']}", package=None, license=None)
        row.update(path=ft["path"], loads=True, error=None)
        if listed is None:
            rows.append(row)
    return rows
