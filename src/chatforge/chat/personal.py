"""Questions about the user ("what's my name?", "où j'habite ?"), answered from memory.

Such a question has no passage to quote and a small model garbles what it is told, so it is
answered by restating the current memory of the matching slot (see :mod:`chatforge.chat.facts`)
as the user said it: 'You told me: "I live in Paris now".' A quote cannot misstate the fact,
whatever slot a statement was filed under. With no such memory the reply says so and invites
the user to tell. Replies are in the question's language, English or French.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatforge.chat.facts import (
    THING,
    extract_slotted,
    favourite_slot,
    is_question,
    normalize,
    thing_slot,
)

if TYPE_CHECKING:
    from chatforge.chat.memory import MemoryStore

EVERYTHING = ()
"""The slots of "what do you know about me?": every current memory answers it."""
MAX_QUOTED = 8
TOLD = {"en": 'You told me: "{facts}".', "fr": "Vous m'avez dit : « {facts} »."}
JOINER = {"en": '"; "', "fr": " » ; « "}
UNKNOWN = {
    "en": "I don't know that yet: tell me and I'll remember.",
    "fr": "Je ne le sais pas encore : dites-le-moi et je m'en souviendrai.",
}

_WHAT_IS = r"\bwhat(?:'s|\s+is|\s+was|\s+are)\s+my\s+(?:current\s+|new\s+|present\s+)?"
_KNOW_MY = r"\b(?:know|remember|recall|tell\s+me|remind\s+me\s+(?:of\s+)?)\s*my\s+"
_KNOW_WHERE = r"\b(?:know|remember|recall|tell\s+me|remind\s+me)\s+where\s+I\s+(?:\w+ly\s+|now\s+)?"
_NOW = r"(?:\w+ly\s+|now\s+|still\s+)?"
_QUEL = r"\b(?:quel(?:le)?s?\s+(?:est|sont)|c'est\s+quoi)\s+(?:mon|ma|mes)\s+"
_OU = r"\bo[uù]\s+(?:est-ce\s+que\s+)?"
_EN = [
    (("surname",), _WHAT_IS + r"(?:last|family|sur)\s*name\b"),
    (("name",), _WHAT_IS + r"(?:first\s+|full\s+)?name\b|\bwho\s+am\s+I\b"),
    (("name",), _KNOW_MY + r"name\b|\bwhat\s+am\s+I\s+called\b|\bwhat\s+my\s+name\s+is\b"),
    (("name",), r"\bwhat\s+do\s+(?:you|people)\s+call\s+me\b"),
    (("home",), r"\bwhere\s+(?:do|did)\s+I\s+" + _NOW + r"(?:live|stay|reside)\b"),
    (("home",), _KNOW_WHERE + r"(?:live|stay|reside)\b"),
    (("home",), r"\bwhere\s+am\s+I\s+(?:now\s+)?(?:living|based|staying)\b"),
    (("home",), r"\bwhere\s+(?:did|have)\s+I\s+(?:just\s+)?(?:move|moved|relocate|relocated)\b"),
    (("home",), r"\b(?:what|which)\s+(?:city|town|country|place)\s+(?:do|did)\s+I\s+live\b"),
    (("home",), r"\b(?:what|which)\s+(?:city|town|country)\s+am\s+I\s+(?:in|living|based)\b"),
    (("home",), _WHAT_IS + r"(?:city|town|country|home)\b|\bwhere(?:'s|\s+is)\s+my\s+home\b"),
    (("origin",), r"\bwhere\s+am\s+I\s+(?:originally\s+)?from\b|\bwhere\s+do\s+I\s+come\s+from\b"),
    (("origin",), _WHAT_IS + r"home\s*town\b"),
    (("birth",), r"\bwhere\s+was\s+I\s+born\b"),
    (("birth", "birthday"), r"\bwhen\s+was\s+I\s+born\b"),
    (("job", "employer"), r"\bwhat\s+do\s+I\s+do\s+(?:for\s+(?:a\s+living|work)|professionally)"),
    (("job", "employer"), _WHAT_IS + r"(?:job|occupation|profession|role|line\s+of\s+work)\b"),
    (("job", "employer"), r"\bwhat\s+(?:kind\s+of\s+)?(?:job|work)\s+do\s+I\s+do\b"),
    (("job", "employer"), r"\bwhat\s+(?:do\s+I\s+work|am\s+I\s+working)\s+as\b"),
    (("employer", "job"), r"\bwhere\s+(?:do\s+I\s+" + _NOW + r"work|am\s+I\s+working)\b"),
    (("employer", "job"), _KNOW_WHERE + r"work\b|\bwho(?:'s|\s+is)\s+my\s+employer\b"),
    (("employer", "job"), _KNOW_MY + r"(?:employer|company)\b"),
    (("job", "employer"), _KNOW_MY + r"(?:job|occupation|profession)\b"),
    (("employer", "job"), r"\bwho\s+do\s+I\s+work\s+for\b|" + _WHAT_IS + r"(?:company|employer)"),
    (("employer", "job"), r"\b(?:which|what)\s+(?:company|firm)\s+do\s+I\s+work\b"),
    (("email",), _WHAT_IS + r"(?:work\s+|personal\s+)?e-?mail\b|\bmy\s+e-?mail\s+address\b"),
    (("email",), _KNOW_MY + r"e-?mail\b"),
    (("age",), r"\bhow\s+old\s+am\s+I\b|" + _WHAT_IS + r"age\b"),
    (("birthday", "birth"), r"\bwhen(?:'s|\s+is)\s+my\s+birthday\b|" + _WHAT_IS + r"birthday"),
    (("language",), r"\b(?:what|which)\s+languages?\s+do\s+I\s+speak\b"),
    (("language",), _WHAT_IS + r"(?:native\s+|first\s+|mother\s+)?(?:language|tongue)\b"),
    (
        ("os",),
        r"\b(?:what|which)\s+(?:os|operating\s+system|distro|distribution)\s+(?:do|am)\s+I\b",
    ),
    (("os",), _WHAT_IS + r"(?:os|operating\s+system|distro)\b"),
    (("editor",), r"\b(?:what|which)\s+(?:text\s+|code\s+)?editor\s+(?:do|am)\s+I\b"),
    (("editor",), _WHAT_IS + r"(?:text\s+)?editor\b"),
    (("pronouns",), _WHAT_IS + r"pronouns\b"),
    (("timezone",), _WHAT_IS + r"time\s*zone\b|\bwhat\s+time\s*zone\s+am\s+I\s+in\b"),
    (("team",), _WHAT_IS + r"team\b|\bwhich\s+team\s+am\s+I\s+(?:in|on)\b"),
    (EVERYTHING, r"\bwhat\s+do\s+you\s+(?:know|remember)\s+about\s+me\b"),
]
_FR = [
    (("surname",), r"\bmon\s+nom\s+de\s+famille\b"),
    (("name",), r"\bcomment\s+(?:est-ce\s+que\s+)?je\s+m'appelle\b|\bcomment\s+m'appel\w+-je\b"),
    (("name",), r"\bje\s+m'appelle\s+comment\b|" + _QUEL + r"(?:pr[ée]nom|nom)\b|\bqui\s+suis-je"),
    (
        ("name",),
        r"\b(?:connai|sai|souvien|rappelle)\w*\s+(?:\w+\s+)?(?:de\s+)?mon\s+(?:pr[ée])?nom",
    ),
    (("home",), _OU + r"(?:j'habite|je\s+(?:vis|réside|demeure|suis\s+installée?))\b"),
    (("home",), r"\bo[uù]\s+habit\w*-je\b|\bj'habite\s+o[uù]\b|\bje\s+(?:vis|réside)\s+o[uù]\b"),
    (
        ("home",),
        r"\bdans\s+quel(?:le)?\s+(?:ville|pays|région|coin)\s+(?:est-ce\s+que\s+)?"
        r"(?:j'habite|je\s+vis|je\s+réside|vis-je|habit\w*-je)",
    ),
    (("home",), _QUEL + r"ville\b|" + _OU + r"(?:j'ai\s+déménagé|je\s+me\s+suis\s+installée?)"),
    (("origin",), r"\bd'o[uù]\s+(?:est-ce\s+que\s+)?je\s+viens\b|\bd'o[uù]\s+viens-je\b"),
    (("origin",), r"\bje\s+viens\s+d'o[uù]\b|\boriginaire\s+d'o[uù]\b"),
    (("birth",), _OU + r"(?:je\s+suis\s+née?|suis-je\s+née?)\b"),
    (("birth", "birthday"), r"\bquand\s+(?:est-ce\s+que\s+)?(?:je\s+suis|suis-je)\s+née?\b"),
    (("job", "employer"), _QUEL + r"(?:métier|travail|job|boulot|emploi|poste|profession)\b"),
    (
        ("job", "employer"),
        r"\b(?:qu'est-ce\s+que\s+je\s+fais|que\s+fais-je|je\s+fais\s+quoi)\s+"
        r"(?:dans\s+la\s+vie|comme\s+(?:métier|travail|boulot|job))",
    ),
    (
        ("job", "employer"),
        r"\bquel\s+(?:métier|travail|boulot)\s+(?:est-ce\s+que\s+)?(?:je\s+fais|fais-je|j'exerce)"
        r"|\bje\s+travaille\s+comme\s+quoi",
    ),
    (("employer", "job"), _OU + r"je\s+(?:travaille|bosse)\b|\bo[uù]\s+travaill\w*-je\b"),
    (("employer", "job"), r"\bje\s+(?:travaille|bosse)\s+o[uù]\b"),
    (("employer", "job"), r"\b(?:pour|chez)\s+qui\s+(?:est-ce\s+que\s+)?je\s+(?:travaille|bosse)"),
    (("employer", "job"), _QUEL + r"(?:entreprise|société|boîte|employeur)\b"),
    (
        ("employer", "job"),
        r"\bdans\s+quelle\s+(?:entreprise|société|boîte)\s+(?:est-ce\s+que\s+)?"
        r"(?:je\s+(?:travaille|bosse)|travaill\w*-je)",
    ),
    (("email",), _QUEL + r"(?:adresse\s+)?(?:e-?mail|mél|mail|courriel|adresse\s+électronique)"),
    (("email",), r"\bmon\s+adresse\s+(?:e-?mail|mail|électronique)\b"),
    (("age",), r"\bquel\s+âge\s+(?:ai-je|j'ai|est-ce\s+que\s+j'ai)\b|\bj'ai\s+quel\s+âge\b"),
    (("birthday", "birth"), r"\bquand\s+(?:est|c'est|tombe)\s+mon\s+anniversaire\b"),
    (("birthday", "birth"), r"\bc'est\s+quand\s+mon\s+anniversaire\b"),
    (
        ("language",),
        r"\bquelles?\s+langues?\s+(?:est-ce\s+que\s+)?(?:je\s+parle|parl\w*-je)|"
        + _QUEL
        + "langue",
    ),
    (
        ("os",),
        r"\bquel(?:le)?\s+(?:os|système(?:\s+d'exploitation)?|distribution|distro)\s+"
        r"(?:est-ce\s+que\s+)?(?:j'utilise|utilis\w*-je|je\s+suis)\b",
    ),
    (("os",), r"\bsous\s+quel\s+(?:os|système)\b|" + _QUEL + r"(?:os|système)\b"),
    (("editor",), r"\bquel\s+éditeur(?:\s+de\s+texte)?\s+(?:est-ce\s+que\s+)?(?:j'utilise|utilis)"),
    (("editor",), _QUEL + r"éditeur\b"),
    (("pronouns",), r"\bquels\s+sont\s+mes\s+pronoms\b"),
    (("timezone",), _QUEL + r"fuseau\s+horaire\b"),
    (("team",), _QUEL + r"équipe\b|\bdans\s+quelle\s+équipe\s+(?:je\s+suis|suis-je)"),
    (EVERYTHING, r"\b(?:qu'est-ce\s+que\s+(?:tu|vous)|que)\s+(?:sai|connai)\w*\s+(?:sur|de)\s+moi"),
    (EVERYTHING, r"\bque\s+(?:sais-tu|savez-vous)\s+(?:sur|de)\s+moi\b|\bsais\s+quoi\s+sur\s+moi"),
]
_RULES = [
    *((slots, "en", re.compile(p, re.I)) for slots, p in _EN),
    *((slots, "fr", re.compile(p, re.I)) for slots, p in _FR),
]
_FAVOURITE = {
    "en": re.compile(
        r"\bwhat(?:'s|\s+is|\s+are)\s+my\s+favou?rite\s+([\w-]+)(?:\s+([\w-]+))?", re.I
    ),
    "fr": re.compile(_QUEL + r"([\w-]+)\s+préférée?s?\b", re.I),
}
_WHICH_FAVOURITE = {
    "en": re.compile(r"\b(?:what|which)\s+([\w-]+(?:\s+[\w-]+)?)\s+is\s+my\s+favou?rite\b", re.I),
    "fr": re.compile(
        r"\bquel(?:le)?s?\s+([\w-]+)\s+(?:est|sont)\s+(?:mon|ma|mes)\s+préférée?s?\b", re.I
    ),
}
_MY_THING = {
    "en": re.compile(
        rf"^\W*(?:what|which)(?:'s|\s+is|\s+are|\s+was)\s+my\s+({THING})\s*\?*\s*$", re.I
    ),
    "fr": re.compile(
        rf"^\W*(?:quel(?:le)?s?\s+(?:est|sont)|c'est\s+quoi)\s+(?:mon|ma|mes)\s+({THING})\s*\?*\s*$",
        re.I,
    ),
}
_ASKS = re.compile(
    r"^\s*(?:tell\s+me|remind\s+me|dis-moi|dites-moi|rappelle-moi|rappelez-moi)\b", re.I
)


@dataclass(frozen=True)
class PersonalQuestion:
    """A question about the user: the slots that answer it, best first (none: "what do you know
    about me?", which every memory answers), and the language to reply in ("en" or "fr")."""

    slots: tuple[str, ...]
    language: str
    stated_only: bool = False
    """A "what is my <thing>?" question: about the user only where a memory fills its slot (a
    personal-notes bot may hold "my wifi password" in its documents)."""


def personal_question(text: str) -> PersonalQuestion | None:
    """What a question asks about the user, or None when it is not about the user."""
    text = normalize(text)
    if not (is_question(text) or _ASKS.match(text)):
        return None
    for language, pattern in _FAVOURITE.items():
        m = pattern.search(text)
        if m:
            words = [w for w in m.groups() if w]
            slots = [favourite_slot(" ".join(words[:n])) for n in range(len(words), 0, -1)]
            return PersonalQuestion(tuple(slots), language)
    for slots, language, pattern in _RULES:
        if pattern.search(text):
            return PersonalQuestion(slots, language)
    for language, pattern in _WHICH_FAVOURITE.items():
        m = pattern.search(text)
        if m:
            return PersonalQuestion((favourite_slot(m.group(1)),), language)
    for language, pattern in _MY_THING.items():
        m = pattern.search(text)
        if m:
            return PersonalQuestion((thing_slot(m.group(1)),), language, stated_only=True)
    return None


def question_about(text: str, memory: MemoryStore, user: str) -> PersonalQuestion | None:
    """`personal_question`, where "what is my <thing>?" counts only when a memory of `user`
    fills that slot."""
    asked = personal_question(text)
    if asked and asked.stated_only and not memory.current(user, asked.slots):
        return None
    return asked


def answer_from_memory(
    question: PersonalQuestion, text: str, memory: MemoryStore, user: str
) -> tuple[str, list[str]]:
    """The reply to a personal question and the memories it restates.

    A fact stated in the same message ("My name is Ada. What's my name?") counts
    before the stored ones, as it is the newest.
    """
    if question.slots == EVERYTHING:
        facts = [m.text for m in memory.list(user) if m.kind != "summary"][-MAX_QUOTED:]
    else:
        stated = dict((slot, fact) for fact, slot in extract_slotted(text) if slot)
        fact = next((stated[s] for s in question.slots if s in stated), None)
        if fact is None:
            found = memory.current(user, question.slots)
            fact = found.text if found else None
        facts = [fact] if fact else []
    if not facts:
        return UNKNOWN[question.language], []
    told = TOLD[question.language].format(facts=JOINER[question.language].join(facts))
    return told, facts
