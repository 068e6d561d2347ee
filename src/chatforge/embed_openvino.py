"""Sentence embeddings on CPU with OpenVINO: the same model and vectors, without torch.

On CPUs OpenVINO runs a BERT-style encoder faster than torch at the same precision (its
attention kernels are the difference), and a process that only embeds never imports torch,
which saves seconds at start and hundreds of MB. The sentence-transformers folder is converted
once, in a child process (that step needs torch), and the converted model is kept in chatforge's
cache.

A model may also be converted with int8 weights (`dtype` "int8"; chosen for multilingual-e5-small,
whose weights were 4-bit to begin with): OpenVINO then quantizes activations on the fly and runs
its int8 (VNNI) kernels: nearly twice the float throughput, with cosines above 0.999 to the float
vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chatforge.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Encoding

log = logging.getLogger(__name__)

POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
PRECISIONS = {"bfloat16": "bf16", "float32": "f32", "float16": "f16", "int8": "f32"}
"""OpenVINO's inference precision per dtype; int8 holds the weights, activations stay float32
where they are not quantized on the fly."""
VERSION = 2
"""Of the conversion: a model converted by an older chatforge is converted again."""
INT8_GROUP = 128
"""Activations quantized on the fly in groups of this many values (OpenVINO's default, 32, ran
E5 about 20% slower for the same vectors)."""


def available() -> bool:
    """Whether the openvino package is installed."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def unsupported(folder: str) -> str | None:
    """Why this model folder cannot run on OpenVINO here, or None when it can.

    Supported: a transformer followed by mean or CLS pooling and optional normalisation, the
    layout of the common sentence-transformers models, with a fast tokenizer file.
    """
    root = Path(folder)
    if not root.is_dir():
        return "not a local folder"
    try:
        modules = _modules(root)
        # The class name: sentence-transformers 6 saves its own models under new module paths.
        types = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = _pooling(_pooling_dir(root, modules))
    except (OSError, ValueError, KeyError, StopIteration) as e:
        return f"no sentence-transformers layout ({e})"
    if types[:2] != ["Transformer", "Pooling"] or types[2:] not in ([], ["Normalize"]):
        return f"modules {types}; only Transformer, Pooling and Normalize are converted"
    if pooling is None:
        return "pooling other than mean or CLS"
    if not (root / "tokenizer.json").is_file():
        return "no tokenizer.json"
    return None


def _modules(root: Path) -> list[dict[str, Any]]:
    return json.loads((root / "modules.json").read_text(encoding="utf-8"))


def _pooling_dir(root: Path, modules: list[dict[str, Any]]) -> Path:
    return root / next(m["path"] for m in modules if m["type"].endswith("Pooling"))


def _pooling(folder: Path) -> str | None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if "pooling_mode" in config:  # as sentence-transformers 6 saves it
        return config["pooling_mode"] if config["pooling_mode"] in POOLINGS.values() else None
    modes = [name for key, name in POOLINGS.items() if config.get(key)]
    others = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
    return modes[0] if len(modes) == 1 and len(others) == 1 else None


def _max_seq_length(root: Path) -> int:
    """Longest input in tokens: sentence-transformers' own setting, or (as version 6 saves a
    model) the tokenizer's."""
    config = json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))
    if "max_seq_length" in config:
        return int(config["max_seq_length"])
    tokenizer = json.loads((root / "tokenizer_config.json").read_text(encoding="utf-8"))
    return int(tokenizer["model_max_length"])


def converted(folder: str, cache: Path, int8: bool = False) -> Path:
    """The OpenVINO model of a sentence-transformers folder, converted on first use.

    Its inputs are the token ids and the attention mask; token type ids are left to the model's
    default, all zeros, which is what sentence-transformers sends for one sentence.
    """
    import openvino as ov

    root = Path(folder).resolve()
    stamp = hashlib.sha256(f"{root}\n{ov.__version__}\nfp16\n{VERSION}".encode())
    for f in sorted(root.glob("*.safetensors")) + sorted(root.glob("*.bin")):
        stat = f.stat()
        stamp.update(f"{f.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    suffix = "-int8" if int8 else ""
    dest = cache / "openvino" / f"{root.name}{suffix}-{stamp.hexdigest()[:16]}"
    if (dest / "model.xml").is_file():
        return dest / "model.xml"
    started = time.perf_counter()
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _convert_apart(root, tmp, int8)
    try:
        tmp.rename(dest)
    except OSError:  # another process finished first; its copy is the same
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s for OpenVINO in %.1f s (once)", root.name, time.perf_counter() - started)
    return dest / "model.xml"


def _convert_apart(root: Path, out: Path, int8: bool) -> None:
    """Convert in a child process: torch, transformers and nncf take about 1 GB that a process
    which only embeds would otherwise keep at its peak, and never needs again."""
    command = [sys.executable, "-m", "chatforge.embed_openvino", str(root), str(out)]
    if int8:
        command.append("--int8")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        shutil.rmtree(out, ignore_errors=True)
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise ModelError(f"cannot convert {root.name} for OpenVINO: {lines[-1]}")


def _convert(root: Path, out: Path, int8: bool) -> None:
    """Trace the transformer, give it int8 weights if asked, and save it as `out`/model.xml."""
    import openvino as ov
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    model = transformers.AutoModel.from_pretrained(root, dtype=torch.float32).eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes that shape checks become constants; none of them change an encoder.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        ov_model = ov.convert_model(model, example_input=example)
    del model
    if int8:
        ov_model = _int8_weights(ov_model)
    # Float weights kept as fp16: the compiled model holds its own copy in the inference
    # precision, so an fp32 file doubled what a process holds (E5's 118M weights: 745 MB, not 341).
    ov.save_model(ov_model, out / "model.xml", compress_to_fp16=True)


def _int8_weights(model: Any) -> Any:
    """Every matrix and embedding table as int8, per output channel (NNCF's weight compression).

    Weights only: no calibration texts are needed, and OpenVINO's CPU plugin keeps the tables
    int8 in memory. Static quantization (NNCF's `quantize`, activations too) ran E5 about 25%
    faster still, but its vectors strayed further (cosine down to 0.994) and OpenVINO expanded
    its 250k-word table to float32 in each compiled model (+500 MB each).
    """
    import nncf

    nncf.set_log_level(logging.ERROR)
    return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)


class OpenVINOEncoder:
    """Tokenizes, runs the converted transformer and pools, as sentence-transformers does.

    The model is compiled for LATENCY, where every layer of a batch is spread over all cores (a
    query), and, on first bulk use, for THROUGHPUT, where each of the CPU's streams runs a batch
    of its own (an ingest). Streams embed an ingest faster, since no layer waits for the slowest
    core, while one text alone in one stream takes longer.
    """

    def __init__(self, folder: str, dtype: str, cache: Path) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        root = Path(folder)
        self.max_seq_length = _max_seq_length(root)
        pooling_dir = _pooling_dir(root, _modules(root))
        self.pooling = _pooling(pooling_dir)
        pooling = json.loads((pooling_dir / "config.json").read_text(encoding="utf-8"))
        self.dim = int(pooling.get("word_embedding_dimension") or pooling["embedding_dimension"])
        # Plain (no truncation, no padding), so the embedder and the chunker share it rather than
        # copy it: E5's 250k-piece vocabulary takes 280 MB a copy.
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._core = ov.Core()
        self._xml = converted(folder, cache, int8=dtype == "int8")
        self._config = {"INFERENCE_PRECISION_HINT": PRECISIONS[dtype]}
        if dtype == "int8":
            self._config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = str(INT8_GROUP)
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _compile(self, hint: str) -> Any:
        with self._lock:
            if hint not in self._compiled:
                config = {"PERFORMANCE_HINT": hint, **self._config}
                try:
                    self._compiled[hint] = self._core.compile_model(self._xml, "CPU", config)
                except RuntimeError as e:
                    raise ModelError(
                        f"cannot compile {self._xml} for OpenVINO's CPU: {e}".splitlines()[0]
                    ) from e
            return self._compiled[hint]

    def tokenize(self, texts: list[str]) -> list[Encoding]:
        """The texts as the model reads them: special tokens added, cut at max_seq_length.

        Cut as a truncating tokenizer cuts: the text's tokens first, then the special tokens
        added around what is left.
        """
        encodings = self.tokenizer.encode_batch(texts)
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.max_seq_length]
        if long:
            keep = self.max_seq_length - self.tokenizer.num_special_tokens_to_add(False)
            bare = self.tokenizer.encode_batch([texts[i] for i in long], add_special_tokens=False)
            for i, e in zip(long, bare, strict=True):
                e.truncate(keep)
                encodings[i] = self.tokenizer.post_process(e)
        return encodings

    def streams(self, bulk: bool) -> int:
        """Batches run at once: one per CPU stream in bulk, else one."""
        hint = "THROUGHPUT" if bulk else "LATENCY"
        return int(self._compile(hint).get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def run(self, batches: list[list[Encoding]], bulk: bool = False) -> Iterator[np.ndarray]:
        """Pooled float32 vectors of each batch of tokenized texts, in order, not normalised."""
        model = self._compile("THROUGHPUT" if bulk else "LATENCY")
        # Requests of this call's own: they are not thread-safe, and the model is shared.
        requests = [model.create_infer_request() for _ in range(self.streams(bulk))]
        running: deque[tuple[Any, np.ndarray]] = deque()
        for i, batch in enumerate(batches):
            if len(running) == len(requests):  # the oldest holds requests[i % n]: wait for it
                yield self._pooled(*running.popleft())
            request = requests[i % len(requests)]
            running.append((request, self._start(request, batch)))
        while running:
            yield self._pooled(*running.popleft())

    @staticmethod
    def _start(request: Any, batch: list[Encoding]) -> np.ndarray:
        """Start the batch, padded to its longest text; returns its attention mask."""
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(batch):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        request.start_async({"input_ids": ids, "attention_mask": mask})  # inputs are copied
        return mask

    def _pooled(self, request: Any, mask: np.ndarray) -> np.ndarray:
        request.wait()
        hidden = request.get_output_tensor(0).data  # the request's buffer, reused by its next batch
        if self.pooling == "cls":
            return np.array(hidden[:, 0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1).clip(min=1e-9)


if __name__ == "__main__":  # the child process of `_convert_apart`
    _convert(Path(sys.argv[1]), Path(sys.argv[2]), int8="--int8" in sys.argv[3:])
