"""Upload passes for the web UI: only this server's, only unexpired, only as issued."""

from __future__ import annotations

import pytest

pytest.importorskip("gradio")

from chatforge.serve.ui.access import PASS_SECONDS, UploadPasses  # noqa: E402

KEYS = ["root-key-0123456789abcdef:root:admin", "alice-key-0123456789:alice"]


def test_a_pass_is_valid_until_it_expires():
    passes = UploadPasses(KEYS)
    token = passes.issue("root", now=1000.0)
    assert passes.valid(token, now=1000.0 + PASS_SECONDS - 1)
    assert not passes.valid(token, now=1000.0 + PASS_SECONDS + 1)


def test_another_server_or_an_altered_pass_is_refused():
    token = UploadPasses(KEYS).issue("root", now=1000.0)
    assert not UploadPasses(["other-key-0123456789:root:admin"]).valid(token, now=1000.0)
    name, expiry, signature = token.split(".")
    later = f"{name}.{int(expiry) + 10**6}.{signature}"
    assert not UploadPasses(KEYS).valid(later, now=1000.0)
    for bad in ("", None, "x", "..", f"{name}.{expiry}.", f"{name}.soon.{signature}"):
        assert not UploadPasses(KEYS).valid(bad, now=1000.0)


def test_workers_with_the_same_keys_accept_each_others_passes():
    """Worker processes share no memory; a pass issued by one must open uploads on another."""
    token = UploadPasses(KEYS).issue("ünïcode.user", now=1000.0)
    assert UploadPasses(list(reversed(KEYS))).valid(token, now=1000.0)
