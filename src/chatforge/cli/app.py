"""The `chatforge` command: one small function per command, each a thin shell over Bot."""

from __future__ import annotations

import logging
import os
import sys

import typer

from chatforge.cli import agent, chat, documents, serve
from chatforge.cli.conversations import conversations_app
from chatforge.cli.memory import memory_app
from chatforge.cli.migrate import migrate
from chatforge.cli.settings import config_app
from chatforge.cli.tune import tune_retriever
from chatforge.data.cli import data_app
from chatforge.errors import ChatforgeError
from chatforge.evaluate.cli import app as eval_app
from chatforge.finetune.cli import finetune_command
from chatforge.lab.cli import app as lab_app

app = typer.Typer(
    help="Build, specialize and run your own chatbot on your own machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_app, name="config")
app.add_typer(lab_app, name="lab", help="Train small language models to see how they work.")
app.add_typer(eval_app, name="eval", help="Measure retrieval, answers and models.")
app.command("finetune")(finetune_command)
app.command("tune-retriever")(tune_retriever)
app.add_typer(data_app, name="data", help="Turn documents, sheets and chats into a training set.")
app.add_typer(memory_app, name="memory")
app.add_typer(conversations_app, name="conversations")
for command in (
    documents.init,
    documents.ingest,
    documents.search,
    documents.sources,
    documents.forget,
    documents.reindex,
    chat.ask,
    chat.chat,
    agent.agent,
    serve.serve,
    chat.models,
    migrate,
):
    app.command()(command)


def _setup_logging() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(format="chatforge: %(message)s", level=logging.WARNING)
    logging.getLogger("chatforge").setLevel(logging.INFO)
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main() -> None:
    """Console entry point: user mistakes end in one line on stderr, not a traceback."""
    _setup_logging()
    try:
        app()
    except ChatforgeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
