"""Several servers of one bot answer every job poll, on SQLite and on PostgreSQL.

On SQLite, two apps with their own store connections in this process; on PostgreSQL, real
`chatforge serve` processes (servesupport.ServeProcess), one of them with `--workers 2`, sharing
the session's real PostgreSQL (tests/pgsupport.py) as two hosts would. Polls open a new
connection each, so they land on any process.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from pgsupport import new_database
from servesupport import LiveServer, ServeProcess

from chatforge.bot import Bot

DOCS = {
    "network.md": "# Networking\n\nThe widget daemon listens on port 7341 by default.\n",
    "jardin.md": "# Le potager\n\nArrosez les tomates le soir, jamais en plein soleil.\n",
}
TRIES = 200


def _bot(root, embedder, url: str | None = None):
    bot = Bot.init(root / "bot")
    bot.settings.llm.model = "smollm2"
    if url:
        bot.settings.store.backend, bot.settings.store.url = "postgres", url
    text = (root / "bot" / "chatforge.yaml").read_text()
    (root / "bot" / "chatforge.yaml").write_text(
        text.replace("model: qwen", "model: smollm2")
        + (f"store:\n  backend: postgres\n  url: {url}\n" if url else "")
    )
    bot = Bot(root / "bot", embedder=embedder)
    assert bot.settings.store.backend == ("postgres" if url else "sqlite")
    (root / "corpus").mkdir()
    (root / "corpus" / "seed.md").write_text("# Seed\n\nZebras migrate every year.\n")
    with contextlib.chdir(root / "corpus"):
        bot.ingest(["."])
    bot.close()
    return root / "bot"


def _upload(url: str, files: dict[str, str]) -> str:
    parts = [("files", (name, text.encode(), "text/markdown")) for name, text in files.items()]
    r = httpx.post(url + "/api/documents", files=parts, timeout=60)
    assert r.status_code == 202, r.text
    return r.json()["job"]["id"]


def _poll(urls: list[str], job_id: str, tries: int) -> tuple[list[int], dict]:
    """`tries` polls spread over `urls`, each on a fresh connection; codes and the last job."""
    codes, job = [], {}
    for i in range(tries):
        r = httpx.get(f"{urls[i % len(urls)]}/api/jobs/{job_id}", timeout=30)
        codes.append(r.status_code)
        job = r.json() if r.status_code == 200 else job
    return codes, job


def _until_finished(url: str, job_id: str) -> dict:
    for _ in range(600):
        job = httpx.get(f"{url}/api/jobs/{job_id}", timeout=30).json()
        if job["status"] in ("done", "failed"):
            return job
        import time

        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_two_servers_of_one_sqlite_bot_answer_every_poll(tmp_path, embedder):
    """Two apps in this process, each with its own store connection and job runner, stand for
    two worker processes (the PostgreSQL tests below run `--workers 2` for real)."""
    folder = _bot(tmp_path, embedder)
    bots = [Bot(folder, embedder=embedder) for _ in range(2)]
    servers = [LiveServer(bot) for bot in bots]
    try:
        job_id = _upload(servers[0].url, DOCS)
        codes, _ = _poll([s.url for s in servers], job_id, TRIES)
        assert codes == [200] * TRIES
        assert _until_finished(servers[1].url, job_id)["status"] == "done"
        hits = httpx.post(servers[1].url + "/api/search", json={"query": "arroser les tomates"})
        assert hits.json()[0]["source"].endswith("jardin.md")
    finally:
        for server, bot in zip(servers, bots, strict=True):
            server.stop()
            bot.close()


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory, embedder, pg_server):
    """Two separate servers of one bot whose store is one PostgreSQL database."""
    root = tmp_path_factory.mktemp("hosts")
    url = new_database(pg_server, "hosts")
    folder = _bot(root, embedder, url)
    with ThreadPoolExecutor(2) as pool:
        starts = [  # the second as a server of two worker processes
            pool.submit(ServeProcess, folder, {}, root / f"serve{i}.log", args)
            for i, args in enumerate([(), ("--workers", "2")])
        ]
        servers = [s.result() for s in starts]
    yield servers, url
    for s in servers:
        s.stop()


@pytest.mark.slow
def test_an_upload_on_one_server_is_seen_by_the_other_at_every_poll(two_hosts):
    (a, b), _ = two_hosts
    job_id = _upload(a.url, DOCS)
    codes, _ = _poll([a.url, b.url], job_id, TRIES)
    assert codes == [200] * TRIES
    assert _until_finished(b.url, job_id)["status"] == "done"
    for question, source in [
        ("Quand arroser les tomates ?", "jardin.md"),
        ("Which port does the daemon use?", "network.md"),
    ]:
        hits = httpx.post(b.url + "/api/search", json={"query": question}, timeout=30).json()
        assert hits[0]["source"].endswith(source)
    assert httpx.get(f"{b.url}/api/jobs/nope", timeout=30).status_code == 404


@pytest.mark.slow
def test_a_server_killed_mid_ingest_leaves_whole_documents_and_a_failed_resumable_job(
    two_hosts,
):
    (a, b), url = two_hosts
    paragraph = "Le jardinier arrose les tomates et taille les rosiers au printemps. " * 40
    files = {f"big{i:02d}.md": f"# Partie {i}\n\n" + paragraph * 12 for i in range(16)}
    job_id = _upload(a.url, files)
    for _ in range(600):  # until at least one file is stored and more remain
        job = httpx.get(f"{b.url}/api/jobs/{job_id}", timeout=30).json()
        if job["status"] != "queued" and job["progress"] > 0:
            break
        import time

        time.sleep(0.05)
    a.proc.kill()  # SIGKILL: no cleanup at all
    a.proc.wait(30)
    job = httpx.get(f"{b.url}/api/jobs/{job_id}", timeout=30).json()
    assert job["status"] == "failed" and "upload the same files again" in job["message"]
    with psycopg.connect(url) as db:
        stored = db.execute("SELECT count(*) FROM files WHERE path LIKE '%big%'").fetchone()[0]
        hollow = db.execute(
            "SELECT count(*) FROM documents d WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.doc_id = d.id)"
        ).fetchone()[0]
        unembedded = db.execute("SELECT count(*) FROM chunks WHERE vec IS NULL").fetchone()[0]
    assert 0 < stored < len(files) and hollow == 0 and unembedded == 0
    again = _until_finished(b.url, _upload(b.url, files))
    assert again["status"] == "done"
    counts = {f["status"] for f in again["report"]["files"]}
    assert counts <= {"unchanged", "ingested"} and "ingested" in counts
    with psycopg.connect(url) as db:
        total = db.execute("SELECT count(*) FROM files WHERE path LIKE '%big%'").fetchone()[0]
    assert total == len(files)
