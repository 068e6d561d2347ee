"""The OpenVINO and torch embedding backends: same vectors, one conversion, clear refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from chatforge.embed import Embedder
from chatforge.embed_openvino import unsupported
from chatforge.errors import ModelError

TEXTS = [
    "How do I change the port the server listens on?",
    "Zebras migrate across the Serengeti every year.",
    "word " * 400,  # longer than the model reads: both backends must cut it at the same token
    "a",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def openvino(cache):
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATFORGE_CACHE", str(cache))
    embedder = Embedder("all-MiniLM-L6-v2", backend="openvino")
    embedder.encode(["warm up"])  # converts into this test's cache
    yield embedder
    mp.undo()


def test_openvino_gives_torchs_float32_vectors(openvino):
    reference = Embedder("all-MiniLM-L6-v2", backend="torch", dtype="float32").encode(TEXTS)
    vectors = openvino.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.9999


def test_the_model_is_converted_once_and_reused(openvino, cache, monkeypatch):
    (converted,) = (cache / "openvino").iterdir()
    stamp = (converted / "model.xml").stat().st_mtime_ns
    monkeypatch.setenv("CHATFORGE_CACHE", str(cache))
    again = Embedder("all-MiniLM-L6-v2", backend="openvino")
    assert np.allclose(again.encode(TEXTS[:1]), openvino.encode(TEXTS[:1]), atol=1e-6)
    assert [p.name for p in (cache / "openvino").iterdir()] == [converted.name]
    assert (converted / "model.xml").stat().st_mtime_ns == stamp


def test_a_process_that_embeds_on_openvino_never_imports_torch(openvino, cache):
    code = (
        "import sys; from chatforge.embed import Embedder; "
        "e = Embedder('all-MiniLM-L6-v2'); v = e.encode(['hello']); "
        "print(e.backend, v.shape[1], 'torch' in sys.modules)"
    )
    env = {"CHATFORGE_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["openvino", "384", "False"]


def test_the_tokenizer_neither_truncates_nor_pads(openvino):
    ids = openvino.tokenizer.encode(TEXTS[2], add_special_tokens=False).ids
    assert len(ids) == 400 > openvino.max_tokens
    assert len(openvino.tokenizer.encode("a", add_special_tokens=False).ids) == 1


def test_a_model_openvino_is_not_given_is_refused_or_left_to_torch(tmp_path):
    folder = tmp_path / "with-dense"
    shutil.copytree(Embedder("all-MiniLM-L6-v2", backend="torch").path, folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(
        2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (folder / "modules.json").write_text(json.dumps(modules))
    assert "Dense" in unsupported(str(folder))
    with pytest.raises(ModelError, match="cannot run on OpenVINO: .*set embed.backend to torch"):
        Embedder(str(folder), backend="openvino")
    assert Embedder(str(folder)).backend == "torch"
    assert unsupported(str(tmp_path / "missing")) == "not a local folder"


def test_batches_are_cut_by_token_count_and_vectors_keep_the_input_order(embedder, monkeypatch):
    """Characters mislead: a long common word is few tokens, single letters are one each."""
    texts = [
        "internationalization " * 3,
        "a b c d e f g h i j k l m n o",
        "hello",
        "1 2 3 4 5 6 7 8 9 10 11 12",
    ]
    tokens = [len(embedder.tokenizer.encode(t).ids) for t in texts]
    alone = np.stack([embedder.encode([t])[0] for t in texts])
    batches = []
    forward = embedder._forward
    monkeypatch.setattr(embedder, "batch_size", 2)
    monkeypatch.setattr(
        embedder,
        "_forward",
        lambda t, e, cuts, bulk, query: (
            batches.extend([t[j] for j in idx] for idx in cuts) or forward(t, e, cuts, bulk, query)
        ),
    )
    together = embedder.encode(texts)
    by_tokens = [t for _, t in sorted(zip(tokens, texts, strict=True), key=lambda p: -p[0])]
    by_chars = sorted(texts, key=len, reverse=True)
    assert batches == [by_tokens[:2], by_tokens[2:]] != [by_chars[:2], by_chars[2:]]
    assert (together * alone).sum(axis=1).min() > 0.9999


def test_bulk_runs_a_batch_per_cpu_stream_and_gives_the_same_vectors(openvino, monkeypatch):
    """Bulk batches are cut to batch_size/streams texts and run in OpenVINO's THROUGHPUT mode."""
    texts = [f"{w} " * (3 * i + 1) for i, w in enumerate("apple river cloud stone music".split())]
    texts += ["How do I change the port?", "a", "Zebras migrate every year."]
    monkeypatch.setattr(openvino, "batch_size", 4)
    one_by_one = np.stack([openvino.encode([t])[0] for t in texts])
    runs = []
    run = openvino.model.run
    monkeypatch.setattr(
        openvino.model,
        "run",
        lambda b, bulk: runs.append(([len(x) for x in b], bulk)) or run(b, bulk),
    )
    vectors = openvino.encode(texts, bulk=True)
    streams = openvino.model.streams(bulk=True)
    size = -(-4 // streams)
    assert runs == [
        ([size] * (len(texts) // size) + [len(texts) % size] * bool(len(texts) % size), True)
    ]
    assert (vectors * one_by_one).sum(axis=1).min() > 0.9999
    assert "THROUGHPUT" in openvino.model._compiled


def test_long_texts_go_fewer_to_a_batch(openvino, monkeypatch):
    """A batch holds MAX_BATCH_TOKENS padded tokens at most: attention memory grows with a
    batch's width squared, so full-length passages are cut into smaller batches."""
    from chatforge.embed import MAX_BATCH_TOKENS

    long_texts = ["word " * 400] * 20  # cut at the model's 256 tokens
    short_texts = ["a few words"] * 20
    monkeypatch.setattr(openvino, "batch_size", 32)
    runs = []
    run = openvino.model.run
    monkeypatch.setattr(
        openvino.model, "run", lambda b, bulk: runs.append([len(x) for x in b]) or run(b, bulk)
    )
    vectors = openvino.encode(long_texts + short_texts)
    width = openvino.model.max_seq_length
    per_batch = MAX_BATCH_TOKENS // width
    assert per_batch < 20  # the long texts need two batches; the second ends with short ones
    assert runs == [[per_batch, per_batch, 40 - 2 * per_batch]]
    assert np.allclose(vectors[0], vectors[19], atol=1e-5)
