"""Wikipedia sources in their real formats, written by the tests that read them.

A pages-articles dump as MediaWiki exports it (siteinfo with localized namespaces, pages with
ns, redirect and revision/text), optionally bz2-compressed as published, and a dataset of
articles saved by `datasets.save_to_disk`, the shape of wikimedia/wikipedia.
"""

from __future__ import annotations

import bz2
from pathlib import Path
from xml.sax.saxutils import escape

PARIS = """{{Infobox ville|nom=Paris|population=2 102 650}}
'''Paris''' est la capitale de la [[France]].<ref>{{Lien web|url=https://insee.fr|titre=Insee}}</ref>
[[Fichier:Tour Eiffel.jpg|vignette|La [[tour Eiffel]] la nuit]]
__NOTOC__
== Histoire ==
Lutèce fut fondée par les Parisii au {{s-|III}} siècle av. J.-C.<ref name="a" />
=== Moyen Âge ===
La ville devient la résidence des [[Capétiens|rois capétiens]] et s'agrandit rapidement.
== Démographie ==
{| class="wikitable"
! Année !! Habitants
|-
| 1900 || 2 714 068
|-
| 2020 || 2 145 906
|}
[[Catégorie:Capitale en Europe]]
"""

TEAL = """{{Short description|Colour}}
'''Teal''' is a dark cyan colour named after the [[common teal]] duck.<ref>{{cite web|url=x}}</ref>
== Etymology ==
The name comes from the coloured stripe on the head of the duck, first used in 1917.
== In culture ==
Teal was a popular colour for sports teams throughout the 1990s in North America.
[[Category:Shades of cyan]]
"""

SITEINFO = """<siteinfo><sitename>Wikipédia</sitename><namespaces>
<namespace key="0" case="first-letter" />
<namespace key="6" case="first-letter">Fichier</namespace>
<namespace key="14" case="first-letter">Catégorie</namespace>
</namespaces></siteinfo>"""


def page(title: str, text: str, ns: int = 0, redirect: str | None = None) -> str:
    target = f'<redirect title="{escape(redirect)}" />' if redirect else ""
    return (
        f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>1</id>{target}"
        f'<revision><id>2</id><text bytes="{len(text)}" xml:space="preserve">'
        f"{escape(text)}</text></revision></page>"
    )


def dump_xml(pages: list[str]) -> str:
    return (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" '
        f'xml:lang="fr">{SITEINFO}{"".join(pages)}</mediawiki>'
    )


ARTICLE_PAGES = [
    page("Paris", PARIS),
    page("Paname", "#REDIRECTION [[Paris]]", redirect="Paris"),
    page("Teal", TEAL),
    page("Discussion:Paris", "Une page de discussion sur l'article.", ns=1),
]


def write_dump(path: Path, pages: list[str] = ARTICLE_PAGES) -> Path:
    """The dump at `path`, compressed with bz2 when the name ends in .bz2."""
    data = dump_xml(pages).encode("utf-8")
    path.write_bytes(bz2.compress(data) if path.suffix == ".bz2" else data)
    return path


def write_articles_dataset(folder: Path) -> Path:
    """A `save_to_disk` folder of id, url, title and text columns (plain text, as published)."""
    from datasets import Dataset

    Dataset.from_dict(
        {
            "id": ["1", "2"],
            "url": ["https://fr.wikipedia.org/wiki/Lyon", "https://en.wikipedia.org/wiki/Teal"],
            "title": ["Lyon", "Teal"],
            "text": [
                "Lyon est une commune française située au confluent du Rhône et de la Saône.\n\n"
                "== Géographie ==\nLa ville s'étend sur les collines de Fourvière et de la "
                "Croix-Rousse, entre deux fleuves.",
                "Teal is a dark cyan colour named after the common teal duck, a bird of "
                "Eurasian wetlands.",
            ],
        }
    ).save_to_disk(str(folder))
    return folder


BROKEN_PAGE = (
    "<page><title>Cassé</title><ns>0</ns><id>9</id><revision><id>9</id>"
    '<text xml:space="preserve">Une page dont la balise ne ferme pas.</txt></revision></page>\n'
)
"""A page whose <text> is closed by a misspelled tag: malformed XML in the middle of a dump."""


def write_damaged_dumps(folder: Path) -> None:
    """cut.xml.bz2: a multistream dump (as Wikipedia publishes) cut inside its second stream;
    bad.xml: a malformed page between two good ones; empty.xml: no bytes at all."""
    head = dump_xml([]).removesuffix("</mediawiki>")
    first = bz2.compress((head + page("Paris", PARIS) + "\n").encode())
    second = bz2.compress((page("Teal", TEAL * 30) + "\n</mediawiki>").encode())
    (folder / "cut.xml.bz2").write_bytes(first + second[: len(second) // 2])
    pages = [page("Paris", PARIS), "\n", BROKEN_PAGE, page("Teal", TEAL), "\n"]
    (folder / "bad.xml").write_text(dump_xml(pages), "utf-8")
    (folder / "empty.xml").write_bytes(b"")
