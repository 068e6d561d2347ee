"""What a model spec stands for: a built-in name, a fine-tuned run, a file, a folder or a URL.

Resolution finds the model on disk (assembling a built-in into the cache the first time) and
checks it cheaply (a GGUF's magic, a folder's config), but loads nothing: opening is the LLM
backends' part. Nothing is fetched from a model hub; a hub name that is not on this machine is
refused with the command that fetches it elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatforge.errors import ModelError
from chatforge.models.builtin import BUILTIN_EMBEDDERS, BUILTIN_MODELS, builtin_embedder, shipped
from chatforge.models.runs import finetuned_folder, served_path

Kind = Literal["builtin", "finetuned", "gguf", "hf", "url"]


@dataclass(frozen=True)
class ResolvedModel:
    """A chat model spec, resolved.

    ``path`` is the file or folder to open (a built-in's shipped GGUF, a run's served GGUF or
    merged folder); None for a URL, which ``spec`` holds. ``name`` is what the model is called:
    the built-in's or run's name, else the file or folder name without suffix.
    """

    spec: str
    kind: Kind
    name: str
    path: Path | None
    chat_template: Literal["gguf", "plain", "auto"] = "auto"
    run: Path | None = None
    """The `chatforge finetune` output folder, for a fine-tuned model."""

    def local_path(self) -> Path:
        """``path``, or a one-line refusal for a URL (training and evaluation read files)."""
        if self.path is None:
            raise ModelError(f"{self.spec} is a URL; training and evaluation need a local model")
        return self.path


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def is_hub_name(spec: str) -> bool:
    """Whether ``spec`` reads like a hub repository id (``org/name``) rather than a path."""
    parts = spec.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not spec.startswith((".", "~"))
        and not spec.endswith(".gguf")
    )


def resolve_llm(spec: str) -> ResolvedModel:
    """Resolve ``spec`` for ``llm.model``: built-in name, fine-tuned run (name, folder or its
    model.gguf), GGUF file, transformers folder or http(s) URL."""
    if is_url(spec):
        return ResolvedModel(spec, "url", spec, None)
    builtin = BUILTIN_MODELS.get(spec)
    if builtin is not None:
        return ResolvedModel(spec, "builtin", spec, shipped(spec), builtin.chat_template)
    run = finetuned_folder(spec)
    if run is not None:
        return ResolvedModel(spec, "finetuned", run.name, served_path(run), run=run)
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelError(_not_found(spec))
    if path.is_dir():
        return ResolvedModel(spec, "hf", path.name, path)
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelError(
            f"{spec} is not a GGUF file; give a .gguf file or a transformers model folder"
        )
    return ResolvedModel(spec, "gguf", path.stem, path)


def _not_found(spec: str) -> str:
    if is_hub_name(spec):
        folder = f"models/{spec.rsplit('/', 1)[-1]}"
        return (
            f"{spec} is not on this machine and chatforge does not download models; fetch it "
            f"where you have a connection (huggingface-cli download {spec} --local-dir "
            f"{folder}), copy the folder or its .gguf file here and set llm.model to that path"
        )
    names = ", ".join(BUILTIN_MODELS)
    return (
        f"no such model file: {spec}; give a .gguf path, an HF folder, "
        f"a built-in name ({names}) or an http(s):// URL"
    )


def resolve_embedder(spec: str) -> str:
    """A path or hub name sentence-transformers can load for the configured embedding model."""
    folder = builtin_embedder(spec)
    if folder is not None:
        return str(folder)
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"{spec}: not a sentence-transformers model folder (no config.json or modules.json)"
            )
        return str(path)
    if "/" in spec and not spec.startswith((".", "/")):
        return spec  # a hub name; loading it needs a network connection or a warm HF cache
    raise ModelError(
        f"embedding model {spec!r} not found; use {', '.join(BUILTIN_EMBEDDERS)}, "
        "a local sentence-transformers folder, or a hub name like org/model"
    )
