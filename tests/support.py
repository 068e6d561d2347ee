"""Helpers the tests share: sample documents and running the real `chatforge` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOCS = {
    "guide/install.md": (
        "# Installing\n\nRun `apt install widget` to install the widget tool on Debian.\n\n"
        "## Removing\n\nTo uninstall it completely, use `apt purge widget`; this also deletes "
        "its configuration files.\n"
    ),
    "guide/network.md": (
        "# Networking\n\nThe widget daemon listens on port 7341 by default. Change the port in "
        "/etc/widget/widget.conf with the `port=` key and restart the service.\n"
    ),
    "notes/animals.txt": (
        "Zebras migrate across the Serengeti every year, following the rains and fresh grass.\n"
    ),
    "faq.csv": (
        "question,answer\n"
        "How do I reset my password?,Open Settings > Account and press Reset password.\n"
        "Can I export my data?,Yes: use File > Export to save everything as JSON.\n"
    ),
}


def write_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for rel, text in docs.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = True):
    """Run the real `chatforge` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "chatforge", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"chatforge {' '.join(args)} failed:\n{proc.stderr}")
    return proc
