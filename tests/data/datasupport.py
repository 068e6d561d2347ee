"""Paths the training-data tests share, importable under a name no other test folder uses."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
