"""Refusals before a run starts: a method this machine cannot run, a base it cannot train.

Each check fails with a one-line message naming the option to change, before anything is loaded
or written.
"""

from __future__ import annotations

from pathlib import Path

from chatforge.errors import ChatforgeError, ModelError
from chatforge.models import resolve_llm

METHODS = ("lora", "qlora", "full")


def check_method(method: str) -> None:
    """Refuse a method this machine cannot run, before anything is loaded or written."""
    if method not in METHODS:
        raise ChatforgeError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "qlora":
        return
    import torch

    if not torch.cuda.is_available():
        raise ChatforgeError(
            "--method qlora needs an NVIDIA GPU with CUDA (4-bit bitsandbytes); "
            "use --method lora on this machine"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ChatforgeError(
            "--method qlora needs bitsandbytes; pip install 'chatforge[gpu]'"
        ) from None


def check_gguf_arch(spec: str) -> None:
    """Refuse a GGUF whose architecture transformers cannot load (and so cannot train)."""
    resolved = resolve_llm(spec)
    if resolved.kind != "gguf" or resolved.path is None:
        return
    path = resolved.path
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    try:
        field = GGUFReader(path).fields["general.architecture"]
        arch = bytes(field.parts[field.data[0]]).decode()
    except (KeyError, ValueError, IndexError, OSError):
        return
    if arch not in GGUF_SUPPORTED_ARCHITECTURES:
        raise ModelError(
            f"{spec} is a {arch} GGUF, which transformers cannot load for training; "
            "give the model's transformers folder as --base"
        )


def check_causal(folder: Path, spec: str) -> None:
    """Refuse a model transformers cannot train as a causal language model."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{spec}: transformers cannot read its config ({e})") from None
    archs = config.architectures or []
    causal = (
        any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)
        if archs
        else config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    )
    if not causal:
        kind = archs[0] if archs else config.model_type
        raise ModelError(
            f"{spec} is a {kind}, not a causal language model; "
            "give a chat or text-generation model as --base"
        )
