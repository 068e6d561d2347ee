"""Model names: the built-in models, fine-tuned runs, the cache, and what a model spec stands for.

Every part that takes a model name (``llm.model``, ``embed.model``, ``--base``, ``chatforge
eval``) resolves it here and only opens what it is given back. This package imports nothing
from the parts that open or train models, and nothing heavy.
"""

from __future__ import annotations

from chatforge.models.builtin import (
    BUILTIN_EMBEDDERS,
    BUILTIN_MODELS,
    QUANTS,
    BuiltinEmbedder,
    BuiltinModel,
    as_quant,
    embedder_languages,
    package_dir,
    requantized,
    resolve_builtin,
    unrelated_cosine,
)
from chatforge.models.cache import cache_dir
from chatforge.models.resolve import (
    ResolvedModel,
    is_hub_name,
    is_url,
    resolve_embedder,
    resolve_llm,
)
from chatforge.models.runs import (
    finetuned_folder,
    finetuned_models,
    is_finetuned,
    merged_path,
    register_run,
    served_path,
)

__all__ = [
    "BUILTIN_EMBEDDERS",
    "BUILTIN_MODELS",
    "QUANTS",
    "BuiltinEmbedder",
    "BuiltinModel",
    "ResolvedModel",
    "as_quant",
    "cache_dir",
    "finetuned_folder",
    "finetuned_models",
    "is_finetuned",
    "is_hub_name",
    "is_url",
    "merged_path",
    "package_dir",
    "register_run",
    "requantized",
    "resolve_builtin",
    "resolve_embedder",
    "resolve_llm",
    "served_path",
    "embedder_languages",
    "unrelated_cosine",
]
