"""The `chatforge` command line; `main` is the console entry point."""

from chatforge.cli.app import app, main

__all__ = ["app", "main"]
