"""Shared pieces of the training-set tests: the example files and a reader context."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from datasupport import FIXTURES


@pytest.fixture(scope="session")
def doc_chunker():
    """The documentation chunker `prepare` uses without a model (MiniLM's tokenizer)."""
    from chatforge.data.prepare import _chunker_factory

    make = _chunker_factory(None, 128)
    make()
    return make


@pytest.fixture
def ctx(doc_chunker):
    from chatforge.formats.rows import ReadContext

    return ReadContext(chunker=doc_chunker, max_length=128)


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A private copy of the example files, so a test may add or break files freely."""
    return Path(shutil.copytree(FIXTURES, tmp_path / "fixtures"))


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `chatforge ...` in this process through the real entry point; (code, out, err)."""
    from chatforge.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["chatforge", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
