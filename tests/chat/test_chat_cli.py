"""The `chatforge` commands for asking and for conversations, through real subprocesses."""

from __future__ import annotations

import json


def test_ask_json_then_conversations_and_memory(run_cli, bot_dir):
    proc = run_cli(
        "ask",
        "Which port does the widget daemon use?",
        "--bot",
        str(bot_dir),
        "--json",
        "--user",
        "ivy",
        "--seed",
        "0",
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert set(answer) >= {
        "text",
        "sources",
        "conversation_id",
        "message_id",
        "usage",
        "timings",
        "interrupted",
    }
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "cached_tokens"}
    assert {"retrieve_ms", "first_token_ms", "total_ms"} <= set(answer["timings"])
    assert answer["sources"][0]["source"] == "guide/network.md"
    assert {"cited", "verified", "n"} <= set(answer["sources"][0])
    cid = answer["conversation_id"]

    listed = run_cli("conversations", "list", "--bot", str(bot_dir), "--user", "ivy", "--json")
    assert [c["id"] for c in json.loads(listed.stdout)] == [cid]
    md = run_cli("conversations", "export", cid, "--bot", str(bot_dir), "--user", "ivy")
    assert "Which port does the widget daemon use?" in md.stdout
    refused = run_cli("conversations", "show", cid, "--bot", str(bot_dir), "--user", "eve")
    assert refused.returncode == 2 and "not found for user 'eve'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_ask_with_missing_model_is_one_clear_line(run_cli, bot_dir):
    proc = run_cli(
        "ask", "hello?", "--bot", str(bot_dir), env={"CHATFORGE_LLM__MODEL": "/nowhere/m.gguf"}
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "/nowhere/m.gguf" in proc.stderr
