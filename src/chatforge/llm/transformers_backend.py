"""Hugging Face transformers backend: any local causal-LM folder, or a GGUF file.

transformers dequantizes a GGUF on load but then still marks the model as quantized (so it cannot
be fine-tuned or saved plainly), and the dequantization takes a while. So a GGUF is converted
once: loaded with ``gguf_file``, copied into a fresh model built from its config without
``quantization_config``, and saved as a plain safetensors folder under
``$CHATFORGE_CACHE/hf/<name>-<hash>`` (default ``~/.cache/chatforge``); later loads read that
folder. The hash covers the GGUF's path, size and modification time.

Runs on CUDA when there is one (bfloat16 where the GPU supports it) else on CPU in float32, which
is faster than bfloat16 on most CPUs. A PEFT adapter folder is applied on top when given (needs
``peft``). Streaming runs ``model.generate`` in a thread feeding a ``TextIteratorStreamer``; a
closed stream sets a stopping criterion so generation ends at the next token.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chatforge.errors import ModelError
from chatforge.llm.base import (
    LLM,
    PLAIN_STOP,
    FinishReason,
    Generation,
    GenOptions,
    Message,
    StopText,
    format_plain,
)
from chatforge.models import cache_dir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_MODELS: dict[tuple[str, str, str | None], tuple[Any, Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


def gguf_cache_folder(gguf: Path) -> Path:
    """Where the plain safetensors copy of ``gguf`` lives (whether or not it exists yet)."""
    st = gguf.stat()
    key = f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "hf" / f"{gguf.stem}-{digest}"


def hf_folder_for_gguf(gguf: str | Path) -> Path:
    """A plain transformers folder for ``gguf``, converting it on first use."""
    gguf = Path(gguf)
    if not gguf.is_file():
        raise ModelError(f"no such model file: {gguf}")
    target = gguf_cache_folder(gguf)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except (ValueError, OSError, KeyError, RuntimeError) as e:
        raise ModelError(f"transformers cannot read {gguf} ({e}); is it a complete GGUF?") from e
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        os.replace(partial, target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    return target


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_hf(
    folder: str | Path, device: str = "auto", adapter: str | Path | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, threading.Lock]:
    """The process-wide (model, tokenizer, lock) for a transformers folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, device = Path(folder).resolve(), _device(device)
    key = (str(folder), device, str(Path(adapter).resolve()) if adapter else None)
    with _LOAD_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        if adapter:
            try:
                from peft import PeftModel
            except ImportError as e:
                raise ModelError(f"adapter {adapter} needs peft; pip install peft") from e
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if cuda_bf16 else torch.float32
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device)
        except (ValueError, OSError, KeyError) as e:
            raise ModelError(f"cannot load {folder} with transformers: {e}") from e
        if adapter:
            model = PeftModel.from_pretrained(model, str(adapter))
        model.eval()
        _MODELS[key] = (model, tokenizer, threading.Lock())
        return _MODELS[key]


def _split_adapter_folder(folder: Path) -> tuple[Path, Path | None]:
    """A bare PEFT adapter folder names its base model; return (base, adapter)."""
    config = folder / "adapter_config.json"
    if (folder / "config.json").is_file() or not config.is_file():
        return folder, None
    base = json.loads(config.read_text()).get("base_model_name_or_path") or ""
    if not Path(base).is_dir():
        raise ModelError(
            f"adapter {folder} names base model {base!r}, which is not a local folder; "
            "set llm.model to the base model and llm.adapter to the adapter"
        )
    return Path(base), folder


def _refuse_schema(name: str, options: GenOptions) -> None:
    if options.json_schema is not None:
        raise ModelError(
            f"{name} runs on transformers, which cannot decode under a JSON schema; "
            "use a GGUF model (llm.backend: llamacpp) for agent mode and tool calls"
        )


def _sampling(options: GenOptions) -> dict[str, Any]:
    """transformers' sampling arguments: greedy at temperature 0, else nucleus sampling."""
    if options.temperature > 0:
        return {
            "do_sample": True,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "top_k": 0,
        }
    return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}


class TransformersLLM(LLM):
    """A causal LM run by transformers (a folder, or a GGUF converted once)."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        adapter: str | Path | None = None,
        device: str = "auto",
        chat_template: Literal["auto", "gguf", "plain"] = "auto",
        name: str | None = None,
    ) -> None:
        path = Path(path)
        if not path.exists():
            raise ModelError(f"no such model file: {path}")
        folder = hf_folder_for_gguf(path) if path.is_file() else path
        if adapter is None:
            folder, adapter = _split_adapter_folder(folder)
        self.path, self.folder, self.adapter = path, folder, adapter
        self._model, self._tokenizer, self._lock = load_hf(folder, device, adapter)
        self.device = self._model.device
        self.name = name or path.stem
        limit = getattr(self._model.config, "max_position_embeddings", None) or n_ctx
        self.context_window = min(n_ctx, limit)
        has_template = bool(getattr(self._tokenizer, "chat_template", None))
        self.chat_template = "gguf" if has_template and chat_template != "plain" else "plain"

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def format_chat(self, messages: Sequence[Message]) -> str:
        if self.chat_template == "plain":
            return format_plain(messages)
        return self._tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def _encode(self, messages: Sequence[Message]) -> Any:
        plain = self.chat_template == "plain"
        return self._tokenizer(
            self.format_chat(messages), return_tensors="pt", add_special_tokens=plain
        )

    def count_chat_tokens(self, messages: Sequence[Message]) -> int:
        return int(self._encode(messages)["input_ids"].shape[1])

    def _generate(
        self, messages: Sequence[Message], options: GenOptions
    ) -> Generator[str, None, Generation]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        _refuse_schema(self.name, options)
        tok = self._tokenizer
        inputs = self._encode(messages).to(self.device)
        n_prompt = int(inputs["input_ids"].shape[1])
        room = self.context_window - n_prompt
        if room < 1:
            raise ModelError(
                f"prompt is {n_prompt} tokens but {self.name} holds {self.context_window}; "
                "shorten it or raise llm.n_ctx"
            )
        stop = list(options.stop)
        if self.chat_template == "plain":
            stop = [*stop, PLAIN_STOP]
        cancel = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kw: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), device=input_ids.device)

        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids, default=0)
        kwargs: dict[str, Any] = dict(
            **inputs,
            **_sampling(options),
            max_new_tokens=min(options.max_tokens, room),
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([Cancelled()]),
            pad_token_id=pad,
        )
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=tok)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                if options.seed is not None:
                    torch.manual_seed(options.seed)
                with torch.inference_mode():
                    result["out"] = self._model.generate(**kwargs)
            except BaseException as e:
                result["error"] = e
                streamer.end()

        stops = StopText(stop, lstrip=self.chat_template == "plain")
        parts: list[str] = []
        with self._lock:
            worker = threading.Thread(target=run, name="chatforge-generate", daemon=True)
            worker.start()
            try:
                for text in streamer:
                    piece = stops.push(text)
                    if piece:
                        parts.append(piece)
                        yield piece
                    if stops.stopped:
                        break
            finally:
                cancel.set()
                worker.join()
        if "error" in result:
            raise ModelError(f"{self.name} failed to generate: {result['error']}")
        tail = stops.flush()
        if tail:
            parts.append(tail)
            yield tail
        new = result["out"][0, n_prompt:].tolist()
        ended = bool(new) and new[-1] in eos_ids
        n_new = len(new) - ended
        finish: FinishReason = "stop" if ended or stops.stopped else "length"
        if not ended and not stops.stopped and n_new < kwargs["max_new_tokens"]:
            finish = "stop"
        return Generation("".join(parts), n_prompt, n_new, finish)
