"""`chatforge migrate --to URL`: move a bot's store from its SQLite file to PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from chatforge.cli.common import BotOpt, JsonOpt, open_bot, print_result


def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The PostgreSQL database (with pgvector): "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
            show_default=False,
        ),
    ],
    bot: BotOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy the bot's documents, vectors, conversations and memories into PostgreSQL, verify the
    copy, then point the bot at it. Nothing is embedded again; run it again to resume."""
    import chatforge.chat.conversations
    import chatforge.chat.memory  # noqa: F401 - both register the tables that are copied
    from chatforge.cli.settings import _write_setting
    from chatforge.config import CONFIG_FILE
    from chatforge.errors import ChatforgeError, ConfigError
    from chatforge.store.pg_schema import safe_url
    from chatforge.store.postgres import PostgresStore
    from chatforge.store.transfer import transfer

    b = open_bot(bot)
    if b.settings.store.backend != "sqlite":
        raise ConfigError(
            "this bot's store is already PostgreSQL (store.url); migrate copies a SQLite bot"
        )
    if not to.startswith(("postgres://", "postgresql://")):
        raise ConfigError(
            f"--to {to!r} is not a PostgreSQL URL; give postgresql://USER:PASSWORD@HOST:PORT/DB"
        )
    source = b.store
    s = b.settings.store
    graph = (s.hnsw_m, s.hnsw_ef_construction)
    target = PostgresStore(to, b.settings.embed.model, lambda: source.dim, graph=graph)
    try:
        target.check_model()
        report = transfer(source, target)
    finally:
        target.close()
    if not report.ok:
        raise ChatforgeError(
            f"the copy in {safe_url(to)} does not match this bot ({report.mismatches[0]}); "
            "the bot keeps its SQLite store; run the same `chatforge migrate` again to resume"
        )
    config = b.folder / CONFIG_FILE
    _write_setting(config, "store", "url", to)
    _write_setting(config, "store", "backend", "postgres")
    rows = ", ".join(f"{n} {table}" for table, n in report.rows.items())
    print_result(
        json_out,
        report.to_dict(),
        f"copied {report.copied} files ({report.unchanged} already there, {report.removed} "
        f"removed) and {rows}; verified: row counts and {report.samples} sample searches "
        f"match; the bot now uses {safe_url(to)} (its SQLite file is kept as it was)",
    )
