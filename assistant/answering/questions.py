"""What a question asks for: its expected answer type and its key terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from assistant.answers import Question
from index.text import query_terms


class Kind(StrEnum):
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    ENTITY = "entity"  # a name of some other kind: organisation, team, product, ...
    OTHER = "other"  # a reason, a description: answered by the quote alone


_PLACE_NOUNS = (
    r"country|countries|nation|nations|city|cities|state|states|town|province|region|"
    r"continent|island|capital|county|territory|location|place|venue|airport|port"
)
_PERSON_NOUNS = (
    r"person|man|woman|player|actor|actress|singer|star|president|leader|official|politician|"
    r"senator|governor|judge|author|artist|rapper|coach|ceo|founder|candidate|pope|king|queen|"
    r"prince|princess|minister|athlete|celebrity|musician|director|chancellor|mayor|justice"
)
_TIME_NOUNS = r"year|date|day|month"
_ENTITY_NOUNS = (
    r"company|companies|team|organization|organisation|party|group|agency|brand|network|"
    r"club|university|school|airline|app|film|movie|show|song|album|book|bank|firm|band|"
    r"newspaper|platform|department|court|league|award|tournament|event|storm|hurricane"
)
_RULES: list[tuple[re.Pattern[str], Kind]] = [
    (re.compile(r"\bhow (many|much|long|old|far|big|tall|high|large)\b"), Kind.NUMBER),
    (
        re.compile(
            r"\bwhat (?:was|is|were|are)? ?(?:the )?"
            r"(?:new |total |estimated |average |latest |current |most recent |updated |official )?"
            r"(number|percentage|percent|share|amount|cost|price|fee|rate|age|sum|total|"
            r"fine|salary|value|score|temperature|death toll|toll|population|budget|"
            r"revenue|profit|deficit|debt|funding|spending|wage|bail|ransom|reward|bonus|"
            r"settlement|penalty|turnout|attendance|distance|margin|speed|weight|height)\b"
        ),
        Kind.NUMBER,
    ),
    (re.compile(rf"\b(when|(what|which) ({_TIME_NOUNS}))\b"), Kind.DATE),
    (re.compile(r"\b(who|whom|whose)\b"), Kind.PERSON),
    (re.compile(rf"\b(which|what)(?: \w+){{0,2}} ({_PERSON_NOUNS})\b"), Kind.PERSON),
    (re.compile(r"\bwhere\b"), Kind.PLACE),
    (re.compile(rf"\b(which|what)(?: \w+){{0,2}} ({_PLACE_NOUNS})\b"), Kind.PLACE),
    (re.compile(rf"\b(which|what) (\w+ ){{0,2}}({_ENTITY_NOUNS})\b"), Kind.ENTITY),
]

# Words of a question that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    """many much long old far big large tall high number percentage percent amount total
    new recently recent week weeks month months year years day days today yesterday
    latest according reportedly announced reported say says said following one
    name named called type kind first last happened also""".split()
)

_WH = re.compile(r"\b(which|what)\s+(?:\w+\s+)?(\w+)")


@dataclass(frozen=True)
class QuestionInfo:
    text: str  # the question's own words, without a follow-up's context
    kind: Kind
    terms: list[str]  # key words, lower-cased, stopwords and question words removed


def analyse(question: str | Question) -> QuestionInfo:
    """The kind comes from the question's own words; a follow-up's context (``about``) only
    adds key terms."""
    q = Question.of(question)
    low = q.text.lower()
    low = re.sub(r"\b(which|what) (one )?of (the|these) (following|options)\b,?", r"\1", low)
    kind = Kind.OTHER
    for pattern, k in _RULES:
        if pattern.search(low):
            kind = k
            break
    m = _WH.search(low)
    focus = m.group(2) if m else None
    first_word = re.search(r"\b(?:which|what)\s+(\w+)", low)
    if first_word and first_word.group(1) not in {"is", "was", "are", "were", "did", "does"}:
        focus = first_word.group(1)
    verbs = {"is", "was", "are", "were", "did", "does", "do", "has", "have", "will"}
    nxt = re.match(r"^\s*(?:which|what)\s+(\w+)", low)
    if kind is Kind.OTHER and nxt and nxt.group(1) not in verbs and focus not in verbs:
        kind = Kind.ENTITY  # "Which nation ...", "What animal ...": a name is wanted
    terms = [t for t in query_terms(str(q)) if t not in QUESTION_WORDS]
    return QuestionInfo(q.text, kind, terms)


# "What is the latest …", "How many … now", "so far", "to date", "currently": the asker
# wants the newest value, not the best-ranked one. "latest" before a thing ("its latest
# film", "the latest draft") names that thing, so it counts only before a value's noun.
_LATEST = re.compile(
    r"\b(?:now|currently|so far|to date|as of (?:now|today)|at (?:the moment|present)"
    r"|(?:the )?(?:latest|most recent|newest|current|updated) (?:\w+ )?"
    r"(?:number|count|figure|total|toll|death toll|estimate|tally|count|price|rate|"
    r"forecast|projection|poll|standings|ranking|leader|score|status|age|value|amount))\b"
)


def wants_latest(question: str | Question) -> bool:
    """Whether ``question`` asks for the newest value of something that changes (its own
    words do, not its context)."""
    return _LATEST.search(Question.of(question).text.lower()) is not None
