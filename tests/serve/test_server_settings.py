"""The server's security settings: each bad value is one line naming the setting and the fix."""

from __future__ import annotations

import pytest

from chatforge.config import Settings
from chatforge.errors import ConfigError
from chatforge.serve.auth import KeyRing


def _load(tmp_path, server_yaml: str) -> Settings:
    (tmp_path / "chatforge.yaml").write_text(f"server:\n{server_yaml}\n", encoding="utf-8")
    return Settings.load(tmp_path)


def test_safe_defaults(tmp_path):
    server = _load(tmp_path, "  port: 8000").server
    assert server.host == "127.0.0.1" and server.api_keys == []
    assert server.allowed_hosts == [] and server.cors_origins == []
    assert server.rate_limit_per_minute > 0 and server.max_queue_per_user > 0
    assert server.auth_backoff_max_s > 0


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('  api_keys: ["short:alice"]', ["server.api_keys", "16 characters", "secrets"]),
        ('  api_keys: ["a-long-enough-key-1234"]', ["server.api_keys", "key:user"]),
        ('  allowed_hosts: ["https://chat.example.com/"]', ["server.allowed_hosts", "host name"]),
        ('  cors_origins: ["*"]', ["server.cors_origins", "scheme://host"]),
        ('  cors_origins: ["https://app.example.com/path"]', ["server.cors_origins", "origin"]),
        ("  rate_limit_per_minute: -1", ["server.rate_limit_per_minute"]),
        ("  max_queue_per_user: -1", ["server.max_queue_per_user"]),
        ("  auth_backoff_max_s: -5", ["server.auth_backoff_max_s"]),
    ],
)
def test_bad_values_name_the_setting(tmp_path, line, words):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, line)
    message = str(e.value)
    assert "\n" not in message and "short" not in message.replace("shorter", "")
    for word in words:
        assert word in message, message


def test_good_values_are_normalised(tmp_path):
    server = _load(
        tmp_path,
        '  allowed_hosts: ["Chat.Example.com", "*.example.org", "[fe80::1]", "192.168.1.20"]\n'
        '  cors_origins: ["https://App.example.com:8443", "http://[::1]:3000"]',
    ).server
    assert server.allowed_hosts == ["chat.example.com", "*.example.org", "fe80::1", "192.168.1.20"]
    assert server.cors_origins == ["https://app.example.com:8443", "http://[::1]:3000"]


def test_the_key_ring_refuses_short_keys_too():
    with pytest.raises(ConfigError, match="server.api_keys"):
        KeyRing(["tiny:alice"])
    ring = KeyRing(["0123456789abcdef:alice", "fedcba9876543210:root:admin"])
    assert ring.authenticate("0123456789abcdef").user == "alice"
    assert ring.authenticate("fedcba9876543210").admin
