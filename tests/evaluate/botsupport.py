"""A small English and French bot for the evaluation tests, built once per module."""

from __future__ import annotations

import json
from pathlib import Path

DOCS = {
    "widget/install.md": (
        "# Installing\n\nRun `apt install widget` to install the widget tool on Debian. The "
        "package pulls in libwidget and a default configuration under /etc/widget.\n"
    ),
    "widget/remove.md": (
        "# Removing\n\nTo uninstall it completely, use `apt purge widget`; purging also deletes "
        "its configuration files, which a plain remove leaves behind.\n"
    ),
    "widget/network.md": (
        "# Networking\n\nThe widget daemon listens on port 7341 by default. Change the port in "
        "/etc/widget/widget.conf with the `port=` key and restart the service.\n"
    ),
    "widget/logs.md": (
        "# Logs\n\nThe daemon writes its log to /var/log/widget.log, rotated weekly by "
        "logrotate; raise the detail with `loglevel=debug` in widget.conf.\n"
    ),
    "widget/backup.md": (
        "# Backups\n\nCopy /var/lib/widget to another disk each night; the database there holds "
        "every saved dashboard, and restoring it means copying the folder back while stopped.\n"
    ),
    "widget/users.md": (
        "# Accounts\n\nCreate an account with `widget adduser NAME`; each account gets a "
        "password sent by email and must change it on first login.\n"
    ),
    "widget/update.md": (
        "# Updating\n\nNew releases come out every month. Run `apt update && apt upgrade` to get "
        "them; the daemon restarts itself after an upgrade.\n"
    ),
    "widget/license.md": (
        "# Licence\n\nWidget is free software under the MIT licence: you may copy, change and "
        "sell it, keeping the copyright notice.\n"
    ),
    "animaux/zebres.md": (
        "# Zèbres\n\nLes zèbres migrent chaque année à travers le Serengeti, en suivant les "
        "pluies et l'herbe fraîche. Un troupeau parcourt des centaines de kilomètres.\n"
    ),
    "animaux/girafes.md": (
        "# Girafes\n\nLa girafe dort moins de deux heures par jour, souvent debout, par courtes "
        "siestes de quelques minutes pour rester attentive aux lions.\n"
    ),
    "animaux/elephants.md": (
        "# Éléphants\n\nUn éléphant boit jusqu'à deux cents litres d'eau par jour et se "
        "souvient des points d'eau pendant des décennies.\n"
    ),
    "cuisine/pain.md": (
        "# Pain\n\nPour un pain de campagne, laissez lever la pâte douze heures au frais, puis "
        "enfournez à 240 degrés pendant quarante minutes avec un bol d'eau dans le four.\n"
    ),
}

QUESTIONS = [
    {"question": "which port does the daemon use", "source": "widget/network.md",
     "answer": "The widget daemon listens on port 7341 by default."},
    {"question": "how do I get rid of widget and its settings", "source": "widget/remove.md",
     "answer": "Use apt purge widget; it also deletes its configuration files."},
    {"question": "combien de temps dort une girafe", "source": "animaux/girafes.md",
     "answer": "La girafe dort moins de deux heures par jour."},
    {"question": "à quelle température cuire le pain", "sources": ["cuisine/pain.md"],
     "answer": "Enfournez à 240 degrés pendant quarante minutes."},
    {"question": "where are the daemon logs kept", "source": "widget/license.md"},
]  # fmt: skip
"""The last is labelled with the wrong source on purpose: a failure the report lists first."""


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def chunk_ids(bot_dir: Path) -> dict[str, int]:
    """Each document's (single) chunk id, by source."""
    from chatforge.bot import Bot

    with Bot(bot_dir) as bot:
        rows = bot.store.db.execute(
            "SELECT d.path, c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
        ).fetchall()
    return dict(rows)
