"""`chatforge data prepare` on Wikipedia (dumps and saved datasets) and code repositories,
through the real CLI, with files written in their real formats."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

from support import cli
from wikisupport import (
    PARIS,
    dump_xml,
    page,
    write_articles_dataset,
    write_damaged_dumps,
    write_dump,
)


def rows_of(folder: Path) -> list[dict]:
    from datasets import load_from_disk

    data = load_from_disk(str(folder))
    return [r for split in ("train", "validation") for r in data[split]]


def test_bz2_dump_gives_text_passages_of_main_articles(tmp_path: Path, run_cli) -> None:
    dump = write_dump(tmp_path / "frwiki-pages-articles.xml.bz2")
    code, out, err = run_cli("data", "prepare", str(dump), "--out", str(tmp_path / "ds"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["sources"][0]["format"] == "wikipedia"
    rows = rows_of(tmp_path / "ds")
    assert {r["kind"] for r in rows} == {"text"}
    text = "\n".join(r["text"] for r in rows)
    assert "Lutèce fut fondée par les Parisii" in text and "Moyen Âge" in text
    assert "1900 | 2 714 068" in text  # the table, one row a line
    assert "Teal is a dark cyan colour" in text
    for gone in ("Infobox", "insee.fr", "vignette", "Catégorie", "NOTOC", "discussion", "REDIRECT"):
        assert gone not in text, gone
    sources = {r["conversation_id"].split("§")[0] for r in rows}
    assert sources == {f"{dump}#Paris", f"{dump}#Teal"}


def test_limit_reads_only_the_first_articles(tmp_path: Path, run_cli) -> None:
    dump = write_dump(tmp_path / "wiki.xml")
    code, _, err = run_cli(
        "data", "prepare", str(dump), "--limit", "1", "--out", str(tmp_path / "ds")
    )
    assert code == 0, err
    text = "\n".join(r["text"] for r in rows_of(tmp_path / "ds"))
    assert "Lutèce" in text and "Teal" not in text


def test_saved_dataset_of_articles(tmp_path: Path, run_cli) -> None:
    folder = write_articles_dataset(tmp_path / "wiki-ds")
    code, out, err = run_cli(
        "data", "prepare", str(folder), "--out", str(tmp_path / "ds"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["sources"][0]["format"] == "wikipedia"
    rows = rows_of(tmp_path / "ds")
    text = "\n".join(r["text"] for r in rows)
    assert text.startswith("Lyon") or "\nLyon" in text or "Lyon\n" in text
    assert "Croix-Rousse, entre deux fleuves" in text and "Eurasian wetlands" in text
    assert any(r["conversation_id"].startswith(f"{folder}#Lyon§") for r in rows)


def test_damaged_dumps_give_their_whole_articles_and_name_what_was_left_out(
    tmp_path: Path,
) -> None:
    write_damaged_dumps(tmp_path)
    out = tmp_path / "o"
    err = cli(
        "data", "prepare", "cut.xml.bz2", "bad.xml", "--format", "wikipedia",
        "--out", "o", "--validation", "0", cwd=tmp_path,
    ).stderr  # fmt: skip
    assert "Traceback" not in err, err
    assert "cut.xml.bz2 line 5: the bz2 file is cut off after line 5" in err
    assert "bad.xml line 23: page 'Cassé' skipped: malformed XML" in err
    stats = json.loads((out / "stats.json").read_text())
    assert [s["line"] for s in stats["skipped"]] == [5, 23]
    texts = " ".join(r["text"] for r in rows_of(out))
    assert "Lutèce" in texts and "dark cyan" in texts and "Une page dont" not in texts


def test_broken_wikipedia_sources_are_one_line_errors(tmp_path: Path, run_cli) -> None:
    write_damaged_dumps(tmp_path)
    whole = bz2.compress(dump_xml([page("Paris", PARIS * 40)]).encode())
    (tmp_path / "cut.xml.bz2").write_bytes(whole[: len(whole) // 2])
    write_dump(tmp_path / "redirects.xml", [page("Paname", "#REDIRECT [[Paris]]")])
    (tmp_path / "nobz.xml.bz2").write_text("not compressed at all")
    expected = {
        "cut.xml.bz2": "cut off before its first record; download the pages-articles dump again",
        "empty.xml": "no XML in it (empty or not XML)",
        "redirects.xml": "no articles in it",
        "nobz.xml.bz2": "the bz2 file is damaged (Invalid data stream) before its first record",
    }
    for name, message in expected.items():
        path = tmp_path / name
        code, out, err = run_cli(
            "data", "prepare", str(path), "--format", "wikipedia", "--out", str(tmp_path / "o")
        )
        assert code != 0 and not out, name
        assert err.startswith(f"error: {path}: ") and err.count("\n") == 1, err
        assert message in err and "Traceback" not in err, err


def test_code_repository_folder(tmp_path: Path, run_cli) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "widget").mkdir(parents=True)
    (repo / "src" / "widget" / "colour.py").write_text(
        '"""Couleurs du widget: la teinte sarcelle, répétée à chaque démarrage."""\n\n\n'
        "def teal_shade(brightness: float) -> str:\n"
        '    """The widget\'s teal at a brightness from 0 to 1, as a hex string."""\n'
        "    level = int(128 * brightness)\n"
        '    return f"#00{level:02x}{level:02x}"\n\n\n'
        "class Daemon:\n"
        '    """Listens on port 7341 and answers colour requests from the panel."""\n\n'
        "    port = 7341\n",
        encoding="utf-8",
    )
    (repo / "src" / "widget" / "panel.js").write_text(
        "export function drawPanel(canvas) {\n"
        "  const ctx = canvas.getContext('2d');\n"
        "  ctx.fillStyle = 'teal'; // the widget's colour on every panel\n"
        "  ctx.fillRect(0, 0, canvas.width, canvas.height);\n"
        "}\n\n"
        "export function brightest(levels: Array<number>, max: Map<string, number>) {\n"
        "  return levels.filter((l) => l<max.size && l>0).length;\n"
        "}\n",
        encoding="utf-8",
    )
    (repo / "README.md").write_text(
        "# Widget\n\nThe widget daemon paints panels teal and listens on port 7341 for requests.\n",
        encoding="utf-8",
    )
    for noise in (".git/objects/x.py", "node_modules/lib/index.js", "venv/lib/site.py"):
        (repo / noise).parent.mkdir(parents=True, exist_ok=True)
        (repo / noise).write_text("def hidden_dependency_code():\n    return 'should not appear'\n")
    (repo / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    code, out, err = run_cli("data", "prepare", str(repo), "--out", str(tmp_path / "ds"), "--json")
    assert code == 0, err
    formats = {Path(s["path"]).name: s["format"] for s in json.loads(out)["sources"]}
    assert formats == {"README.md": "markdown", "colour.py": "code", "panel.js": "code"}
    rows = rows_of(tmp_path / "ds")
    text = "\n".join(r["text"] for r in rows)
    assert "def teal_shade(brightness: float) -> str:\n    " in text  # indentation kept
    assert "répétée à chaque démarrage" in text
    assert "ctx.fillStyle = 'teal';" in text and "paints panels teal" in text
    # code is plain text: what looks like a tag is kept
    assert "levels: Array<number>, max: Map<string, number>" in text and "l<max.size && l>0" in text
    assert "hidden_dependency_code" not in text
    by_definition = {
        r["conversation_id"].rsplit("§", 1)[0] for r in rows if "colour.py" in r["source"]
    }
    assert len({r["conversation_id"] for r in rows if "colour.py" in r["source"]}) >= 2
    assert by_definition == {str(repo / "src" / "widget" / "colour.py")}
