"""Public Debian documents used as benchmark corpora, fetched with apt and cached on disk.

`apt-get download` fetches a package's .deb into the cache folder and `dpkg-deb -x` unpacks it;
both steps are skipped when their output is already there, so calling these helpers is cheap
after the first time.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO / ".cache" / "bench"

PYTHON_DOC = "python3.11-doc"
DEBIAN_FAQ = "debian-faq"
DEBIAN_FAQ_FR = "debian-faq-fr"

# Generated navigation pages of the Sphinx build: indexes of every name, not documents.
PYTHON_NAV_PAGES = ("genindex*.html", "py-modindex.html", "search.html", "contents.html")


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch_deb(package: str, cache: Path = DEFAULT_CACHE) -> Path:
    """Download and unpack one Debian package; returns the folder it was unpacked into."""
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / package
    stamp = root / ".unpacked"
    if stamp.exists():
        return root
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        got = _run(["apt-get", "download", package], cache)
        if got.returncode != 0:
            update = _run(["apt-get", "update"], cache)
            if update.returncode != 0:
                raise RuntimeError(f"apt-get update failed: {update.stderr.strip()}")
            got = _run(["apt-get", "download", package], cache)
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if got.returncode != 0 or not debs:
            raise RuntimeError(f"apt-get download {package} failed: {got.stderr.strip()}")
    root.mkdir(exist_ok=True)
    unpack = _run(["dpkg-deb", "-x", str(debs[-1]), str(root)], cache)
    if unpack.returncode != 0:
        raise RuntimeError(f"dpkg-deb -x {debs[-1].name} failed: {unpack.stderr.strip()}")
    stamp.write_text(debs[-1].name + "\n", encoding="utf-8")
    return root


def python_docs(cache: Path = DEFAULT_CACHE) -> Path:
    """The HTML folder of the Python 3.11 documentation."""
    html = fetch_deb(PYTHON_DOC, cache) / "usr/share/doc/python3.11/html"
    if not (html / "index.html").is_file():
        raise RuntimeError(f"{html}: no index.html; the {PYTHON_DOC} package layout changed")
    return html


def python_doc_pages(html: Path, nav_pages: bool = False) -> list[Path]:
    """Every HTML page, relative to `html`, sorted; navigation indexes only with `nav_pages`."""
    pages = []
    for p in sorted(html.rglob("*.html")):
        rel = p.relative_to(html)
        if rel.parts[0].startswith("_") or not p.is_file():
            continue
        if not nav_pages and any(rel.match(g) for g in PYTHON_NAV_PAGES):
            continue
        pages.append(rel)
    return pages


def debian_faq(cache: Path = DEFAULT_CACHE) -> Path:
    """The folder of the Debian FAQ's English HTML chapters."""
    faq = fetch_deb(DEBIAN_FAQ, cache) / "usr/share/doc/debian/FAQ"
    if not (faq / "index.en.html").is_file():
        raise RuntimeError(f"{faq}: no index.en.html; the {DEBIAN_FAQ} package layout changed")
    return faq


def debian_faq_fr(cache: Path = DEFAULT_CACHE) -> Path:
    """The folder of the Debian FAQ's French HTML chapters (same chapters and numbering)."""
    faq = fetch_deb(DEBIAN_FAQ_FR, cache) / "usr/share/doc/debian/FAQ/fr"
    if not (faq / "index.fr.html").is_file():
        raise RuntimeError(f"{faq}: no index.fr.html; the {DEBIAN_FAQ_FR} package layout changed")
    return faq


def debian_faq_pages(faq: Path, lang: str = "en") -> list[Path]:
    """The FAQ's chapter pages in `lang`, relative to `faq`, without the table of contents."""
    index = f"index.{lang}.html"
    return [p.relative_to(faq) for p in sorted(faq.glob(f"*.{lang}.html")) if p.name != index]


CORPORA = ("python-docs", "debian-faq", "debian-faq-fr")


def pick_pages(pages: list[Path], questions: list[dict], limit: int | None) -> list[Path]:
    """All pages, or `limit` pages: the labelled answer pages first, then others in order."""
    if limit is None or limit >= len(pages):
        return pages
    wanted = {p for q in questions for p in q["sources"]}
    first = [p for p in pages if p.as_posix() in wanted]
    rest = [p for p in pages if p.as_posix() not in wanted]
    return sorted((first + rest)[:limit])


def corpus(name: str, cache: Path = DEFAULT_CACHE) -> tuple[Path, list[Path]]:
    """(root folder, pages relative to it) of a named corpus."""
    if name == "python-docs":
        root = python_docs(cache)
        return root, python_doc_pages(root)
    if name == "debian-faq":
        root = debian_faq(cache)
        return root, debian_faq_pages(root)
    if name == "debian-faq-fr":
        root = debian_faq_fr(cache)
        return root, debian_faq_pages(root, "fr")
    raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", help=f"any of {', '.join(CORPORA)} (default: all)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    for name in args.corpus or CORPORA:
        try:
            root, pages = corpus(name, args.cache)
        except (ValueError, RuntimeError) as e:
            parser.error(str(e))
        size = sum((root / p).stat().st_size for p in pages)
        print(f"{name:12} {len(pages):5} pages {size / 1e6:7.1f} MB  {root}")


if __name__ == "__main__":
    main()
