"""Words too common to say what a text is about, in English and French.

Keyword search drops them from a question (BM25 would give them almost no weight, and with
fewer terms it answers faster); passage compression ignores them when it matches a sentence to
the question. Words are compared in lower case; French elisions (`l'`, `qu'`) split into a
letter or two, which the lists hold too.
"""

from __future__ import annotations

ENGLISH = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our out over own same she should so some
    such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours""".split()
)
FRENCH = frozenset(
    """à au aux avec ce ces cet cette c comment d dans de des du elle elles en est et été être
    il ils j je l la le les leur leurs lui m ma mais me mes mon n ne nos notre nous ou où par pas
    pour qu que quel quelle quelles quels qui quoi s sa se ses si son sont sur t ta te tes ton tu
    un une vos votre vous y""".split()
)
STOPWORDS = ENGLISH | FRENCH
STOPWORDS_BY_LANGUAGE = {"en": ENGLISH, "fr": FRENCH}
"""Stopwords by ISO 639-1 code, for the languages that have a list here."""
