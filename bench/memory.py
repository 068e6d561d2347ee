"""Long-term memory as a user feels it: facts said in passing, personal questions asked later.

A scripted set of conversations (English and French) in which users state facts among other
chat, some of them superseded in a later conversation ("I live in Paris now"). Then, each in a
new conversation, personal questions phrased otherwise than the facts were ("where am I based
these days?", "dans quelle ville est-ce que je vis ?"), questions about facts never stated, and
questions that are not about the user, some with "my" or "I" in them.

Systems, on the same bot and the same memories:
- ``chatforge``: `Bot.ask` on a bot made with `Bot.init` defaults (chat.mode auto, the built-in
  model), over a small corpus so that other questions have passages to quote;
- ``recall top-1``: the user's memory most similar to the question (`MemoryStore.search`, what
  recall puts first in a prompt), the peer: similarity alone, without slots.

Metrics: the share of personal questions answered with the current fact (the answer holds the
fact's value and not the superseded one), with a superseded (stale) fact, and the share of
questions about facts never stated answered "I don't know that yet"; the share of other
questions wrongly answered from memory. A memory answer is one whose `Answer.mode` is memory.

Run from the repository root: ``python bench/memory.py`` (a minute or two on 2 cores;
``--misses`` prints each question answered wrongly).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import offline, table

CORPUS = {
    "widget/setup.md": (
        "# Setup\n\nThe widget package installs with `apt install widget` on Debian and "
        "Ubuntu. Removing it with `apt purge widget` deletes its configuration as well.\n"
    ),
    "widget/daemon.md": (
        "# The daemon\n\nBy default the widget daemon accepts connections on port 7341. "
        "Set `port=` in /etc/widget/widget.conf, then restart the service to change it.\n"
    ),
    "widget/lisez-moi.md": (
        "# Installer le widget\n\nLancez `apt install widget` pour installer l'outil. Pour le "
        "désinstaller, utilisez `apt purge widget`. Le démon écoute sur le port 7341.\n"
    ),
    "zoo.txt": "Every year zebras cross the Serengeti in search of rain and fresh grass.\n",
}

# user -> conversations, each a list of messages, in the order they happen.
CONVERSATIONS: dict[str, list[list[str]]] = {
    "ada": [
        [
            "Hi there.",
            "My name is Ada and I'm a nurse.",
            "How do I install the widget on Debian?",
            "Thanks! By the way, I live in Lyon.",
        ],
        [
            "What port does the widget daemon listen on?",
            "I live in Paris now, so I may need another setup.",
            "OK, thanks.",
        ],
    ],
    "ben": [
        [
            "I use Debian on my laptop.",
            "How do I remove the widget completely?",
            "I work at Bosch, and I live in Munich.",
            "My email is ben@example.com.",
        ],
        ["I moved to Berlin last month.", "I'm now working at Siemens.", "Where do zebras go?"],
    ],
    "cara": [
        ["Call me Cara.", "I'm 29 years old.", "Where do zebras migrate?"],
        ["My favourite colour is teal.", "Thanks, that's all."],
    ],
    "dan": [
        ["I work as a teacher.", "I speak English and Spanish.", "What port does it use?"],
        ["Good news: I work as a data engineer now.", "How do I change the port?"],
    ],
    "eve": [
        ["I live in Toronto.", "I use Vim.", "How do I install the widget?"],
        ["I use Emacs now.", "Where is the configuration file?"],
    ],
    "finn": [["My name is Finn.", "My pronouns are they/them.", "I'm from Dublin, by the way."]],
    "chloe": [
        [
            "Bonjour !",
            "Je m'appelle Chloé et je suis infirmière.",
            "Comment désinstaller le widget ?",
            "J'habite à Lyon.",
        ],
        ["Maintenant j'habite à Paris.", "Sur quel port écoute le démon ?"],
    ],
    "hugo": [
        ["Je travaille chez Renault.", "J'utilise Debian.", "Quel port utilise le widget ?"],
        ["Je travaille maintenant chez Airbus.", "Merci beaucoup."],
    ],
    "ines": [
        [
            "Mon nom est Inès Martin.",
            "J'ai 34 ans.",
            "Ma couleur préférée est le vert.",
            "Mon adresse e-mail est ines@exemple.fr.",
        ]
    ],
    "jules": [
        ["Je vis à Marseille.", "Je suis développeur.", "Comment installer le widget ?"],
        ["J'ai déménagé à Bordeaux.", "Je travaille comme architecte maintenant."],
    ],
    "kim": [
        [
            "Remember that my locker code is 4512.",
            "I'm a pharmacist.",
            "I live in Seoul.",
            "How do I uninstall the widget?",
        ]
    ],
    "lea": [
        [
            "Retiens que je parle français et italien.",
            "Je suis née à Nantes.",
            "Souviens-toi que mon adresse e-mail est lea@exemple.fr.",
        ],
        ["N'oublie pas que mon adresse e-mail est lea.nouveau@exemple.fr.", "Merci !"],
    ],
    "mo": [
        ["I'm a software engineer at a bank.", "My time zone is CET."],
        ["My time zone is PST now.", "How do I restart the service?"],
    ],
}


@dataclass(frozen=True)
class Probe:
    """A question asked in a new conversation: the value its answer must hold (None: the fact
    was never stated, so "I don't know" is right) and the superseded value it must not."""

    user: str
    question: str
    current: str | None
    stale: str | None = None


PERSONAL = [
    Probe("ada", "what's my name again?", "Ada"),
    Probe("ada", "Where am I based these days?", "Paris", "Lyon"),
    Probe("ada", "What do I do for work?", "nurse"),
    Probe("ada", "Do you know where I live?", "Paris", "Lyon"),
    Probe("ben", "Which OS do I use?", "Debian"),
    Probe("ben", "What's my e-mail address?", "ben@example.com"),
    Probe("ben", "Which city do I live in?", "Berlin", "Munich"),
    Probe("ben", "Who do I work for?", "Siemens", "Bosch"),
    Probe("cara", "What do people call me?", "Cara"),
    Probe("cara", "How old am I?", "29"),
    Probe("cara", "What's my favorite color?", "teal"),
    Probe("dan", "What's my job?", "data engineer", "teacher"),
    Probe("dan", "Which languages do I speak?", "Spanish"),
    Probe("eve", "Which editor am I using?", "Emacs", "Vim"),
    Probe("eve", "what city do I live in", "Toronto"),
    Probe("finn", "who am I?", "Finn"),
    Probe("finn", "What are my pronouns?", "they/them"),
    Probe("finn", "Where am I from?", "Dublin"),
    Probe("kim", "What do I do for a living?", "pharmacist"),
    Probe("kim", "Tell me where I live.", "Seoul"),
    Probe("mo", "What's my timezone?", "PST", "CET"),
    Probe("mo", "What is my occupation?", "software engineer"),
    Probe("ada", "Can you remind me what my name is?", "Ada"),
    Probe("ben", "Do you remember where I work?", "Siemens", "Bosch"),
    Probe("dan", "Do you know my job?", "data engineer", "teacher"),
    Probe("eve", "Where do I currently live?", "Toronto"),
    Probe("chloe", "Comment je m'appelle ?", "Chloé"),
    Probe("chloe", "Où est-ce que j'habite maintenant ?", "Paris", "Lyon"),
    Probe("chloe", "Quel est mon métier ?", "infirmière"),
    Probe("chloe", "Tu sais où je vis ?", "Paris", "Lyon"),
    Probe("hugo", "Où est-ce que je travaille ?", "Airbus", "Renault"),
    Probe("hugo", "Quel système d'exploitation j'utilise ?", "Debian"),
    Probe("ines", "C'est quoi mon prénom ?", "Inès"),
    Probe("ines", "Quel âge ai-je ?", "34"),
    Probe("ines", "Quelle est ma couleur préférée ?", "vert"),
    Probe("ines", "Quelle est mon adresse e-mail ?", "ines@exemple.fr"),
    Probe("jules", "Dans quelle ville est-ce que je vis ?", "Bordeaux", "Marseille"),
    Probe("jules", "Qu'est-ce que je fais dans la vie ?", "architecte", "développeur"),
    Probe("lea", "Quelles langues est-ce que je parle ?", "italien"),
    Probe("lea", "Où suis-je née ?", "Nantes"),
    Probe("lea", "Quel est mon e-mail ?", "lea.nouveau@exemple.fr", "lea@exemple.fr"),
    Probe("chloe", "Tu te souviens de mon prénom ?", "Chloé"),
    Probe("hugo", "Je bosse où ?", "Airbus", "Renault"),
    Probe("jules", "J'habite où déjà ?", "Bordeaux", "Marseille"),
]
NEVER_SAID = [
    Probe("cara", "Where do I work?", None),
    Probe("finn", "How old am I?", None),
    Probe("ines", "Où est-ce que j'habite ?", None),
    Probe("hugo", "Comment je m'appelle ?", None),
    Probe("nobody", "What's my name?", None),
]
OTHER = [
    ("ada", "How do I install the widget on Debian?"),
    ("ada", "What port does the widget daemon listen on?"),
    ("ben", "How do I remove the widget completely?"),
    ("ben", "Where do I change the port?"),
    ("eve", "Which editor should I use for the config file?"),
    ("dan", "What is my best option to change the port?"),
    ("kim", "What do I need to install the widget?"),
    ("mo", "Where do zebras migrate?"),
    ("chloe", "Comment désinstaller le widget ?"),
    ("hugo", "Quel port utilise le widget ?"),
    ("jules", "Quel éditeur recommandez-vous ?"),
    ("lea", "Où se trouve le fichier de configuration ?"),
    ("ines", "Comment changer mon port ?"),
    ("eve", "Can I install the widget where I live?"),
    ("finn", "What is the name of the configuration file?"),
]
FRENCH_USERS = {"chloe", "hugo", "ines", "jules", "lea"}


def open_bot(folder: Path) -> Any:
    """A bot with `Bot.init` defaults over the small corpus."""
    from chatforge.bot import Bot

    corpus = folder / "corpus"
    for rel, text in CORPUS.items():
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(text, encoding="utf-8")
    bot = Bot(Bot.init(folder / "bot").folder)
    with contextlib.chdir(corpus):
        bot.ingest(["."])
    return bot


def tell(bot: Any) -> int:
    """Play every conversation; returns the number of turns."""
    turns = 0
    for user, conversations in CONVERSATIONS.items():
        for messages in conversations:
            conversation = None
            for message in messages:
                conversation = bot.ask(message, user=user, conversation_id=conversation)
                conversation = conversation.conversation_id
                turns += 1
    return turns


def judged(text: str, probe: Probe, unknown: bool) -> str:
    """current, stale, unknown (said it did not know) or wrong."""
    low = text.lower()
    if probe.stale and probe.stale.lower() in low:
        return "stale"
    if probe.current and probe.current.lower() in low:
        return "current"
    return "unknown" if unknown else "wrong"


def run_chatforge(bot: Any, misses: bool) -> dict[str, float]:
    from chatforge.chat.personal import UNKNOWN

    def ask(probe: Probe) -> str:
        answer = bot.ask(probe.question, user=probe.user, save=False)
        verdict = judged(answer.text, probe, answer.text in UNKNOWN.values())
        wanted = "unknown" if probe.current is None else "current"
        if misses and verdict != wanted:
            print(f"  miss ({verdict}) {probe.user}: {probe.question!r} -> {answer.text!r}")
        return verdict

    out = score([ask(p) for p in PERSONAL], [ask(p) for p in NEVER_SAID])
    wrong = [q for u, q in OTHER if bot.ask(q, user=u, save=False).mode == "memory"]
    if misses:
        for q in wrong:
            print(f"  answered from memory: {q!r}")
    out["other from memory"] = len(wrong) / len(OTHER)
    return out


def run_recall(bot: Any) -> dict[str, float]:
    """The peer: the top memory by similarity, as recall would put first in a prompt."""

    def top(probe: Probe) -> str:
        found = bot.memory.search(probe.user, probe.question, k=1)
        return judged(found[0].text if found else "", probe, not found)

    out = score([top(p) for p in PERSONAL], [top(p) for p in NEVER_SAID])
    out["other from memory"] = float("nan")
    return out


def score(personal: list[str], never: list[str]) -> dict[str, float]:
    fr = [v for v, p in zip(personal, PERSONAL, strict=True) if p.user in FRENCH_USERS]
    en = [v for v, p in zip(personal, PERSONAL, strict=True) if p.user not in FRENCH_USERS]
    return {
        "current": personal.count("current") / len(personal),
        "current en": en.count("current") / len(en),
        "current fr": fr.count("current") / len(fr),
        "stale": personal.count("stale") / len(personal),
        "unknown said": never.count("unknown") / len(never),
    }


COLUMNS = ["current", "current en", "current fr", "stale", "unknown said", "other from memory"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print each wrong answer")
    args = parser.parse_args()
    offline()
    with tempfile.TemporaryDirectory() as tmp:
        bot = open_bot(Path(tmp))
        turns = tell(bot)
        stale = sum(p.stale is not None for p in PERSONAL)
        print(
            f"{len(CONVERSATIONS)} users, {sum(map(len, CONVERSATIONS.values()))} conversations, "
            f"{turns} turns; {len(PERSONAL)} personal questions ({stale} about a superseded "
            f"fact), {len(NEVER_SAID)} about facts never stated, {len(OTHER)} other questions; "
            f"bot answers in {bot.chat.mode()} mode"
        )
        rows = {"chatforge": run_chatforge(bot, args.misses), "recall top-1": run_recall(bot)}
        bot.close()
    print()
    print(
        table([[name, *(r[c] for c in COLUMNS)] for name, r in rows.items()], ["system", *COLUMNS])
    )
    ours, peer = rows["chatforge"]["current"], rows["recall top-1"]["current"]
    print(f"\ncurrent fact: chatforge {ours:.0%} vs recall top-1 {peer:.0%} (target >= 90%)")


if __name__ == "__main__":
    main()
