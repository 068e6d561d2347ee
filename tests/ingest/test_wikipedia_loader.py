"""`chatforge ingest` on Wikipedia dumps and saved datasets of articles, through the real CLI:
one document per article, sections at the article's headings, broken files named with the fix."""

from __future__ import annotations

import json
import re

from support import cli
from wikisupport import page, write_articles_dataset, write_damaged_dumps, write_dump


def test_dump_and_saved_dataset_become_articles_with_sections(tmp_path):
    write_dump(tmp_path / "frwiki.xml.bz2")
    write_articles_dataset(tmp_path / "wiki-ds")
    cli("init", "bot", cwd=tmp_path)
    out = cli("ingest", "frwiki.xml.bz2", "wiki-ds", "--bot", "bot", "--json", cwd=tmp_path)
    report = json.loads(out.stdout)
    assert report["totals"]["failed"] == 0, report["files"]
    files = {f["path"]: f["documents"] for f in report["files"]}
    assert files == {"frwiki.xml.bz2": 2, "wiki-ds/data-00000-of-00001.arrow": 2}

    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert {(d["path"], d["part"]) for d in docs} == {
        ("frwiki.xml.bz2", "Paris"),
        ("frwiki.xml.bz2", "Teal"),
        ("wiki-ds/data-00000-of-00001.arrow", "Lyon"),
        ("wiki-ds/data-00000-of-00001.arrow", "Teal"),
    }
    hits = json.loads(
        cli("search", "Moyen Âge rois capétiens", "--bot", "bot", "--json", cwd=tmp_path).stdout
    )
    top = hits[0]
    assert top["title"] == "Paris" and "Moyen Âge" in top["section"]
    assert "rois capétiens" in top["text"] and "[[" not in top["text"] and "<ref" not in top["text"]
    hits = json.loads(
        cli("search", "Géographie de Lyon", "--bot", "bot", "--json", cwd=tmp_path).stdout
    )
    assert any(h["title"] == "Lyon" and "Croix-Rousse" in h["text"] for h in hits)


def test_max_articles_setting_limits_a_dump(tmp_path):
    write_dump(tmp_path / "wiki.xml")
    cli("init", "bot", cwd=tmp_path)
    cli("config", "set", "ingest.wikipedia_max_articles", "1", "--bot", "bot", cwd=tmp_path)
    report = json.loads(cli("ingest", "wiki.xml", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert report["files"][0]["documents"] == 1


def test_damaged_dumps_keep_their_whole_articles_and_say_what_was_left_out(tmp_path):
    write_damaged_dumps(tmp_path)
    write_dump(tmp_path / "talk.xml", [page("Discussion:Paris", "Bonjour à tous.", ns=1)])
    cli("init", "bot", cwd=tmp_path)
    proc = cli(
        "ingest", "cut.xml.bz2", "bad.xml", "empty.xml", "talk.xml", "--bot", "bot",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    err = proc.stderr
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert re.search(r"chatforge: cut\.xml\.bz2: line \d+: the bz2 file is cut off after line", err)
    assert "download the pages-articles dump again for the rest" in err
    assert re.search(
        r"chatforge: bad\.xml: line 23: page 'Cassé' skipped: malformed XML \(Opening and ending",
        err,
    )
    assert "failed: empty.xml: empty file" in err
    assert "failed: talk.xml: no articles in it" in err
    assert "ingested 2" in proc.stdout
    docs = json.loads(cli("sources", "--bot", "bot", "--json", cwd=tmp_path).stdout)
    assert sorted((d["path"], d["part"]) for d in docs) == [
        ("bad.xml", "Paris"),
        ("bad.xml", "Teal"),
        ("cut.xml.bz2", "Paris"),
    ]
