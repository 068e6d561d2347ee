"""Durable facts in what a user says, in English and French, found with plain patterns.

A 135M model invents facts as readily as it finds them, so only explicit first-person statements
count: "my name is Ana", "I use Debian", "I live in Lyon", "je m'appelle Ana", "j'habite à Lyon",
"je suis infirmière". Questions are skipped. "Remember that ..." ("retiens que ...", "n'oublie
pas que ...") is an explicit request, stored at once as said.

Each fact gets a slot when it says one thing a user has only one of at a time: name, home, job,
employer, email, age... (`SLOTS`; "favourite colour" and the like are slots too). A fact that
starts "my <thing> is ..." ("my locker code is 4312", "mon numéro de client est 88217") fills
the slot of that thing ("locker code"). A newer fact for a slot supersedes the older one (see
:mod:`chatforge.chat.memory`); a fact with no slot ("I have two cats") sits beside the others.
Slots are what personal questions are answered from (:mod:`chatforge.chat.personal`).
"""

from __future__ import annotations

import re

from chatforge.languages import detect
from chatforge.words import ENGLISH, FRENCH

SLOTS = (
    "name",
    "surname",
    "home",
    "origin",
    "birth",
    "job",
    "employer",
    "email",
    "age",
    "birthday",
    "language",
    "os",
    "editor",
    "pronouns",
    "timezone",
    "team",
)
"""Fixed slots; "favourite <thing>" and "my <thing>" slots are made from what the user names."""

MAX_FACT_CHARS = 300
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_SENTENCES = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")
"""Sentences end at . ! ? before a space or the end, so "ada@example.com" stays whole."""
_QUESTION_START = re.compile(
    r"^(?:what|who|where|when|why|how|which|do|does|did|can|could|should|would|is|are|am|will|"
    r"comment|pourquoi|où|quand|quel|quelle|quels|quelles|qui|que|qu'|quoi|est-ce|combien|"
    r"peux-tu|pouvez-vous|sais-tu|savez-vous|te souviens-tu|vous souvenez-vous)(?!\w)",
    re.I,
)
_CLAUSE_BREAK = re.compile(
    r"(?:,?\s+(?:and|but|et|mais)\s+|,\s*|;\s*)(?=(?:I|my|je|mon|ma|mes)\b|j')", re.I
)
"""Where a second statement starts inside a sentence: "..., and I live in Lyon"."""
_TAIL = re.compile(r"\s+(?:but|so|because|and then|mais|donc|parce que|alors que)\s+", re.I)

_REMEMBER = re.compile(
    r"^\s*(?:(?:please|pls|also|and|s'il te plaît|s'il vous plaît|stp|svp|et|aussi)[,\s]+)?"
    r"(?:remember|don'?t forget|do not forget|keep in mind|retiens|retenez|souviens-toi|"
    r"souvenez-vous|rappelle-toi|rappelez-vous|n'oublie pas|n'oubliez pas|notez|note|"
    r"garde en tête|gardez en tête|mémorisez|mémorise)"
    r"(?:\s+that|\s+que\s+|\s+qu'|\s*:)?[,:\s]*(?P<fact>.+?)"
    r"\s*(?:,?\s*(?:please|s'il te plaît|s'il vous plaît|stp|svp|merci))?[.!]*\s*$",
    re.I | re.S,
)

_OS = (
    r"(?:debian|ubuntu|fedora|arch(?:\s+linux)?|linux\s+mint|mint|manjaro|opensuse|suse|gentoo|"
    r"centos|rocky\s+linux|alma\s*linux|red\s*hat|rhel|windows(?:\s+\d+)?|mac\s*os|os\s*x|"
    r"freebsd|openbsd|chrome\s*os|nixos|pop!?_?os|linux)(?!\w)"
)
_EDITOR = (
    r"(?:emacs|vim|neovim|nvim|vs\s*code|visual\s+studio\s+code|sublime(?:\s+text)?|atom|nano|"
    r"notepad\+\+|intellij(?:\s+idea)?|pycharm|eclipse|kate|gedit|helix|zed|xcode)(?!\w)"
)
_I_AM = r"\bI(?:'m|\s+am)\s+(?:now\s+|currently\s+|still\s+)?"
_JE_SUIS = r"\bje\s+suis\s+(?:maintenant\s+|désormais\s+|actuellement\s+)?"
_A = r"(?:à|a|en|au|aux|dans|sur|près\s+de)\s+"
_NOT_A_JOB_EN = r"(?!(?:bit|little|lot|big|huge|great|fan|beginner|newbie|vegetarian|vegan)\b)"
_NOT_A_JOB_FR = (
    r"(?!(?:premi|derni|fi|enti|particuli|réguli|meilleur|majeur|mineur|supérieur|intérieur|"
    r"extérieur|triste|optimiste|pessimiste|réaliste|égoïste|célibataire|solidaire|ancien|"
    r"fatigant|méchant|marrant|important|intéressant|brillant|vivant|charmant|perdant|gagnant|"
    r"exigeant|végétarien|végétalien|peu\b|fois\b)\w*)"
)
_JOB_FR = (
    r"(?:\w+(?:ier|ière|eur|eure|rice|iste|logue|aire|cien|cienne|ant|ante|at|ate|ecin)|"
    r"(?:développ|program|serv|coiff|vend|cherch|dans|chant|mass)\w*euse|boulangère?|"
    r"pilote|chef|cadre|juge|prof|retraitée?|interne|coach|freelance|comptable|responsable|"
    r"architecte|photographe|secrétaire|médecin|chômeuse)(?!\w)"
)


def _rules(*pairs: tuple[str | None, str]) -> list[tuple[str | None, re.Pattern[str]]]:
    return [(slot, re.compile(p, re.I)) for slot, p in pairs]


_FAVOURITE = re.compile(
    r"\bmy\s+favou?rite\s+(?P<thing>[\w-]+(?:\s+[\w-]+)?)\s+(?:is|are)\s+\S"
    r"|\b(?:mon|ma|mes)\s+(?P<chose>[\w-]+)\s+préférée?s?\s+(?:est|sont|c'est)\s+\S",
    re.I,
)
THING = r"[\w'-]+(?:\s+[\w'-]+){0,3}?"
"""What "my <thing>" names: one to four words."""
_MY_THING = re.compile(
    rf"^\W*(?:that\s+)?my\s+(?P<thing>{THING})\s+(?:is|are)\s+\S"
    rf"|^\W*(?:que\s+)?(?:mon|ma|mes)\s+(?P<chose>{THING})\s+(?:est|sont|c'est)\s+\S",
    re.I,
)
_NOW_WORDS = {"current", "new", "present", "actuel", "actuelle", "nouveau", "nouvel", "nouvelle"}
_SLOT_RULES = _rules(
    ("surname", r"\bmy\s+(?:last|family|sur)\s*name\s+is\s+\S"),
    ("surname", r"\bmon\s+nom\s+de\s+famille\s+(?:est|c'est)\s+\S"),
    ("name", r"\bmy\s+(?:first\s+|full\s+|real\s+)?name\s+is\s+\S"),
    ("name", r"\bcall\s+me\s+\S|" + _I_AM + r"(?:called|named)\s+\S"),
    ("name", r"\bje\s+m'appelle\s+\S|\bon\s+m'appelle\s+\S|\bappel(?:le|ez)[- ]moi\s+\S"),
    ("name", r"\bmon\s+(?:pr[ée]nom|nom)\s+(?:est|c'est)\s+\S"),
    ("email", r"\bmy\s+(?:work\s+|personal\s+)?e-?mail(?:\s+address)?\s+is\s+\S"),
    (
        "email",
        r"\bmon\s+(?:adresse\s+)?(?:e-?mail|mél|mail|courriel|adresse\s+électronique)"
        r"\s+(?:est|c'est|:)\s*\S",
    ),
    (
        "home",
        r"\bI\s+(?:now\s+|currently\s+|still\s+)?(?:live|reside)\s+(?:now\s+)?(?:in|at|near)\s",
    ),
    ("home", _I_AM + r"(?:living|based|staying)\s+(?:in|at|near)\s+\S"),
    (
        "home",
        r"\bI(?:'ve|\s+have)?\s+(?:just\s+|recently\s+|finally\s+)?(?:moved|relocated)\s+to\s",
    ),
    ("home", r"\bmy\s+(?:city|country|town|home)\s+is\s+\S"),
    ("home", r"\bj'habite\s+(?!pas\b|plus\b)\S|\bje\s+(?:vis|réside|demeure)\s+" + _A),
    ("home", r"\bj'ai\s+déménagé\s+" + _A + r"|\bje\s+viens\s+de\s+(?:déménager|m'installer)\s"),
    ("home", r"\bje\s+(?:me\s+)?suis\s+(?:installée?|basée?|domiciliée?)\s+" + _A),
    ("home", r"\bma\s+ville\s+(?:est|c'est)\s+\S"),
    ("origin", _I_AM + r"(?:originally\s+)?from\s+\S|\bI\s+come\s+from\s+\S"),
    ("origin", r"\bmy\s+home\s*town\s+is\s+\S|\bje\s+suis\s+originaire\s+d"),
    ("origin", r"\bje\s+viens\s+(?:de\s+|d'|du\s+|des\s+)(?-i:[A-ZÀ-Ý])"),
    ("birth", r"\bI\s+was\s+born\s+(?:in|on|at)\s+\S|\bje\s+suis\s+née?\s+(?:à|a|en|au|le|l')"),
    ("job", r"\bI\s+(?:now\s+)?work\s+as\s+\S|" + _I_AM + r"working\s+as\s+\S"),
    ("job", r"\bmy\s+(?:job|role|occupation|profession|position)\s+is\s+\S"),
    ("employer", r"\bI\s+(?:now\s+|currently\s+|still\s+)?work\s+(?:at|for|in)\s+\S"),
    ("employer", _I_AM + r"working\s+(?:at|for|in)\s+\S|\bmy\s+(?:company|employer)\s+is\s"),
    ("job", r"\bje\s+(?:travaille|bosse)\s+(?:maintenant\s+|désormais\s+)?comme\s+\S"),
    (
        "job",
        r"\b(?:mon|ma)\s+(?:métier|travail|job|boulot|emploi|poste|profession)\s+(?:est|c'est)\s",
    ),
    (
        "employer",
        r"\bje\s+(?:travaille|bosse)\s+(?:maintenant\s+|désormais\s+|actuellement\s+)?"
        r"(?:chez|à|a|pour|dans|au|aux|en)\s+\S",
    ),
    ("employer", r"\b(?:mon\s+entreprise|mon\s+employeur|ma\s+société)\s+(?:est|c'est)\s+\S"),
    ("age", _I_AM + r"\d{1,3}\s+(?:years?\s+old|yo)\b|\bmy\s+age\s+is\s+\d"),
    ("age", r"\bj'ai\s+(?:maintenant\s+)?\d{1,3}\s+ans\b"),
    ("birthday", r"\bmy\s+birthday\s+is\s+\S|\bmon\s+anniversaire\s+(?:est|c'est|tombe)\s+\S"),
    ("language", r"\bI\s+(?:mostly\s+|mainly\s+)?speak\s+\S"),
    ("language", r"\bmy\s+(?:native\s+|first\s+|mother\s+)?(?:language|tongue)\s+is\s+\S"),
    ("language", r"\bje\s+parle\s+(?!de\b|du\b|des\b|d'|à\b|avec\b|pas\b|trop\b)\S"),
    ("language", r"\bma\s+langue\s+(?:maternelle\s+)?(?:est|c'est)\s+\S"),
    (
        "os",
        r"\bI\s+(?:now\s+)?(?:use|run)\s+" + _OS + "|" + _I_AM + r"(?:using|running|on)\s+" + _OS,
    ),
    ("os", r"\bmy\s+(?:os|operating\s+system|distro|distribution)\s+is\s+\S"),
    ("os", r"\bj'utilise\s+(?:maintenant\s+)?" + _OS + r"|\bje\s+(?:suis|tourne)\s+sous\s+" + _OS),
    ("os", r"\bmon\s+(?:os|système(?:\s+d'exploitation)?|distribution|distro)\s+(?:est|c'est)\s"),
    ("editor", r"\bI\s+(?:now\s+)?use\s+" + _EDITOR + "|" + _I_AM + r"using\s+" + _EDITOR),
    ("editor", r"\bmy\s+(?:text\s+)?editor\s+is\s+\S|\bj'utilise\s+(?:maintenant\s+)?" + _EDITOR),
    ("editor", r"\bmon\s+éditeur(?:\s+de\s+texte)?\s+(?:est|c'est)\s+\S"),
    ("pronouns", r"\bmy\s+pronouns\s+are\s+\S|\bmes\s+pronoms\s+sont\s+\S"),
    ("timezone", r"\bmy\s+time\s*zone\s+is\s+\S|\bmon\s+fuseau\s+horaire\s+(?:est|c'est)\s+\S"),
    ("team", r"\bmy\s+team\s+is\s+\S|\bmon\s+équipe\s+(?:est|c'est)\s+\S"),
    (None, _I_AM + r"(?:a|an)\s+" + _NOT_A_JOB_EN + r"(?:vegetarian|vegan)\b"),
    ("job", _I_AM + r"(?:a|an)\s+" + _NOT_A_JOB_EN + r"\S"),
    (None, _JE_SUIS + r"(?:végétarien|végétalien|vegan|végane?|allergique)"),
    ("job", _JE_SUIS + r"(?:un|une)\s+" + _NOT_A_JOB_FR + r"\S"),
    ("job", _JE_SUIS + r"(?=(?-i:[a-zà-ÿ]))" + _NOT_A_JOB_FR + _JOB_FR),
)
_FREE_RULES = _rules(
    (
        None,
        r"\bmy\s+(?:[\w'-]+\s+){0,2}?(?:name|job|role|email|e-mail|timezone|time zone|"
        r"birthday|age|pronouns|language|os|operating system|editor|team|company|city|country|"
        r"favou?rite\s+[\w-]+)\s+(?:is|are)\s+\S",
    ),
    (
        None,
        r"\bI(?:'m|\s+am)\s+(?:a|an|from|based in|allergic to|vegetarian|vegan|"
        r"\d+\s+years old|working (?:at|on|for|as)|called|named|learning|studying|"
        r"using|running|living in)\b\s*\S",
    ),
    (
        None,
        r"\bI\s+(?:use|prefer|live in|work (?:at|for|as|on|in)|speak|own|run|study|teach|"
        r"like|love|hate|dislike|have (?:a|an|two|three|\d+))\b\s+\S",
    ),
    (None, r"\bj'(?:utilise|aime|adore|apprends|étudie|enseigne)\s+\S"),
    (None, r"\bj'ai\s+(?:un|une|deux|trois|\d+)\s+\S|\bje\s+(?:préfère|déteste|possède)\s+\S"),
)


def normalize(text: str) -> str:
    """Typographic apostrophes as plain ones, so "j’habite" reads like "j'habite"."""
    return text.translate(_APOSTROPHES)


def remember_request(text: str) -> str | None:
    """The fact in an explicit "remember that ..." / "retiens que ..." request, or None."""
    text = normalize(text)
    m = _REMEMBER.match(text)
    if not m or text.rstrip().endswith("?"):
        return None
    fact = " ".join(m.group("fact").split()).rstrip(".!")
    return fact[:MAX_FACT_CHARS] if len(fact) >= 3 else None


def slot_of(text: str) -> str | None:
    """The slot a fact fills ("name", "home", "favourite colour", "locker code"...), or None
    for a free fact ("I have two cats")."""
    found = _match(normalize(text))
    if found and found[0]:
        return found[0]
    mine = _MY_THING.match(normalize(text))
    return thing_slot(mine.group("thing") or mine.group("chose")) if mine else None


def thing_slot(thing: str) -> str:
    """The slot of "my <thing>", spelled one way: "my new Locker  code" fills "locker code"."""
    return " ".join(w for w in thing.lower().split() if w not in _NOW_WORDS)


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than states (a "?" or a question word first)."""
    sentence = normalize(sentence).strip()
    return sentence.endswith("?") or bool(_QUESTION_START.match(sentence))


def language_of(text: str) -> str:
    """ "fr" when a text has more French than English common words, "en" when fewer; on a tie
    (a short question: "Combien de lunes a Jupiter ?" has one of each) the language detector
    decides, and "en" unless it says French."""
    words = re.findall(r"[\w]+'?", normalize(text).lower())
    french = sum(w.rstrip("'") in FRENCH and w.rstrip("'") not in ENGLISH for w in words)
    english = sum(w in ENGLISH and w not in FRENCH for w in words)
    if french == english:
        return "fr" if detect(text)[0] == "fr" else "en"
    return "fr" if french > english else "en"


def only_facts(text: str) -> bool:
    """Whether a message only states facts with a slot ("I live in Paris now."), asking nothing
    and saying nothing else; greetings of a word or two are let pass."""
    found = False
    for m in _SENTENCES.finditer(normalize(text)):
        sentence = m.group(0).strip(" .!,;")
        if not sentence or len(sentence.split()) <= 2 and not is_question(sentence):
            continue
        if is_question(m.group(0)):
            return False
        for clause in _CLAUSE_BREAK.split(sentence):
            matched = _match(clause)
            if matched is None or matched[0] is None:
                return False
            found = True
    return found


def extract_facts(text: str) -> list[str]:
    """First-person statements worth remembering, each trimmed to its clause."""
    return [fact for fact, _ in extract_slotted(text)]


def extract_slotted(text: str) -> list[tuple[str, str | None]]:
    """(fact, slot) for each first-person statement, in order; a sentence stating two things
    ("My name is Ada and I live in Lyon") gives two facts."""
    out: list[tuple[str, str | None]] = []
    for m in _SENTENCES.finditer(normalize(text)):
        sentence = m.group(0).strip()
        if not sentence or is_question(sentence):
            continue
        for clause in _CLAUSE_BREAK.split(sentence):
            found = _match(clause)
            if found is None:
                continue
            slot, start = found
            fact = _TAIL.split(clause[start:].strip(), maxsplit=1)[0].rstrip(".!,; ")
            fact = fact[0].upper() + fact[1:]
            if fact not in (f for f, _ in out) and len(fact) <= MAX_FACT_CHARS:
                out.append((fact, slot))
    return out


def _match(clause: str) -> tuple[str | None, int] | None:
    """(slot, where the statement starts) for the first rule a clause matches, or None."""
    fav = _FAVOURITE.search(clause)
    if fav:
        return favourite_slot(fav.group("thing") or fav.group("chose")), fav.start()
    for slot, pattern in (*_SLOT_RULES, *_FREE_RULES):
        found = pattern.search(clause)
        if found:
            return slot, found.start()
    return None


def favourite_slot(thing: str) -> str:
    """The slot of a favourite thing, spelled one way: "favourite colour"."""
    thing = " ".join(thing.lower().split()).replace("color", "colour")
    return f"favourite {thing}"
