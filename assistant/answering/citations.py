"""Citation verification for generated answers.

A language model can cite a source that was never given, or cite a real one for a claim it
made up. After generation every sentence is checked:

- each ``[n]`` must name one of the passages given (1-based, in prompt order);
- a sentence with citations must be supported by the passages it cites: at least every
  number, date and proper name in it occurs there (or in the source's title, outlet and
  publication date, which the prompt showed too);
- a sentence without a citation that states such facts must find them in some passage, and
  is then attributed to the first passage that holds them all (small models often leave the
  markers out); a sentence whose facts are all in another given passage than the one it cites
  is attributed to that passage (a citation of the wrong passage).

Numbers match by value ("2,000", "two thousand", "2 thousand"; "$1.5bn" and "1.5 billion"),
and a hedged round figure ("about 2,000", "nearly 2 million") matches a figure within 10%.

Sentences of a passage that read like instructions to the model ("ignore previous
instructions …", see assistant/answering/injection.py) never count as support: obeying an
injected instruction would otherwise be "supported" by the very text that injected it. And a
cited sentence must state what its passages say: most of its content words occur there, so a
reply such as "BANANA [1]" is not verified by carrying a citation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from assistant.answering.facts import NOT_NAMES, NUMBER_WORDS, Fact, names, numbers
from assistant.answering.injection import injected_spans
from assistant.answers import Answer, Passage, SentenceCheck
from index.text import english_stopwords, stem

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
MARKERS_TAIL = re.compile(r"(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
# "U.S.", "Mr.", "Jan." end with a full stop but not a sentence
_ABBREV = re.compile(
    r"(?:\b[A-Z]\.(?:[A-Z]\.)*|\b(?:Mr|Mrs|Ms|Dr|St|Sen|Rep|Gov|Gen|Lt|Col|Jr|Sr|Inc|Co"
    r"|Corp|No|vs|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.)$"
)
_WORD = re.compile(r"[A-Za-z][\w'’\-]*")
_ROUNDING = 0.1
_MONTH_NAMES = ("january february march april may june july august september october "
                "november december").split()  # fmt: skip
_MONTH = (  # capitalised: "may" and "march" are verbs too
    r"(?P<m>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# "June 20", "June 20, 2025", "20 June 2025", "2025-06-20": a day of a month, as one fact
_CALENDAR = re.compile(
    rf"\b(?:{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>(?:19|20)\d\d))?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH.replace('?P<m>', '?P<m2>')}"
    rf"(?:,?\s+(?P<y2>(?:19|20)\d\d))?"
    rf"|(?P<y3>(?:19|20)\d\d)-(?P<m3>\d\d)-(?P<d3>\d\d))\b"
)


def calendar_dates(text: str) -> list[tuple[str, int, int, int | None]]:
    """Each day of a month ``text`` names: (as written, month, day, year or None)."""
    out: list[tuple[str, int, int, int | None]] = []
    for m in _CALENDAR.finditer(text):
        g = m.groupdict()
        if g["m3"]:
            month, day = int(g["m3"]), int(g["d3"])
            year: int | None = int(g["y3"])
        else:
            name = (g["m"] or g["m2"]).lower()[:3]
            month = 1 + [n[:3] for n in _MONTH_NAMES].index(name)
            day = int(g["d"] or g["d2"])
            y = g["y"] or g["y2"]
            year = int(y) if y else None
        if 1 <= month <= 12 and 1 <= day <= 31:
            out.append((m.group(), month, day, year))
    return out


def markers(text: str) -> list[int]:
    """Every ``[n]`` (also ``[1, 2]``) in ``text``, in order."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        out.extend(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1)))
    return out


def strip_markers(text: str) -> str:
    return " ".join(MARKER.sub(" ", text).split())


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of an answer, its trailing ``[n]`` markers included.
    A sentence ends at a line break, or at ``.!?`` followed by a space or the end; a full stop
    inside "2.5" or "U.S." with no space after it does not end one.

    This splits a model's reply, not an article: the ``[n]`` after a full stop belongs to the
    sentence before it, which the index's splitter (``index.text.split_sentences``, Punkt)
    would start the next sentence with. Articles and passages are split by the index's."""
    spans: list[tuple[int, int]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        end = None
        if ch == "\n":
            end, nxt = i, i + 1
        elif (
            ch in ".!?"
            and (i + 1 == n or text[i + 1] in ' \t\n["”’)')
            and not (ch == "." and _ABBREV.search(text, 0, i + 1))
        ):
            j = i + 1
            while j < n and text[j] in '"”’)':
                j += 1
            tail = MARKERS_TAIL.match(text, j)
            if tail:
                j = tail.end()
            end, nxt = j, j
        if end is not None:
            if text[start:end].strip():
                spans.append((start, end))
            start = i = nxt
            continue
        i += 1
    if text[start:].strip():
        spans.append((start, n))
    # trim the whitespace around each sentence
    out = []
    for s, e in spans:
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        out.append((s + lead, s + len(seg.rstrip())))
    return out


def support_text(passage: Passage) -> str:
    """What a citation of ``passage`` may draw on: its text without instruction-like
    sentences, its title, outlet and publication date (the prompt shows all of them)."""
    bad = set(injected_spans(passage))
    spans = passage.sentences or [(passage.start, passage.end)]
    body = " ".join(passage.sentence_text(s) for s in spans if s not in bad)
    parts = [passage.title, passage.source, body]
    if passage.published:
        d = passage.published
        parts.append(f"{d:%Y-%m-%d} {d:%A} {d:%B} {d.day} {d.year}")
    return "\n".join(p for p in parts if p)


class Support:
    """The facts one body of text can vouch for."""

    def __init__(self, text: str) -> None:
        self.lower = text.lower()
        self.values = {f.value for f in numbers(text) if f.value is not None}
        self.stems = {stem(w) for w in _WORD.findall(self.lower)}
        self.days = {(m, d, y) for _, m, d, y in calendar_dates(text)}

    def has_day(self, month: int, day: int, year: int | None) -> bool:
        """Whether this text names that day (a day without its year matches any year's)."""
        return any(
            m == month and d == day and (year is None or y is None or y == year)
            for m, d, y in self.days
        )

    def has_number(self, fact: Fact) -> bool:
        if fact.value in self.values or fact.text.lower() in self.lower:
            return True
        return (
            fact.approx
            and fact.value is not None
            and any(abs(v - fact.value) <= _ROUNDING * abs(v) for v in self.values if v)
        )

    def has_name(self, name: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", self.lower) is not None

    def missing(self, sentence: str) -> list[str]:
        """The numbers and names of ``sentence`` this text does not hold."""
        plain = strip_markers(sentence)
        # a date is checked whole: "4,000 (June 20)" cited to the June 8 story that also
        # says "20 people" and "June" is not backed
        out = [d for d, m, day, y in calendar_dates(plain) if not self.has_day(m, day, y)]
        rest = _CALENDAR.sub(" ", plain)  # a date's parts are checked with it
        out += [f.text for f in numbers(rest) if not self.has_number(f)]
        out += [n for n in names(rest) if not self.has_name(n) and n not in out]
        return out

    def missing_words(self, sentence: str) -> list[str]:
        """The content words of ``sentence`` this text lacks, when they outnumber what it
        holds (its content words and its numbers and names, counted as facts): a sentence
        must say what its passage says, not merely carry a citation ("banana [1]")."""
        plain = strip_markers(sentence)
        found_names = {n.lower() for n in names(plain)}
        facts = len(numbers(plain)) + len(found_names)
        words = {
            w
            for w in _WORD.findall(plain.lower())
            if len(w) > 2
            and w not in found_names
            and w not in NOT_NAMES
            and w not in NUMBER_WORDS
            and w not in english_stopwords()
        }
        lacking = sorted(w for w in words if stem(w) not in self.stems)
        return lacking if 2 * len(lacking) > len(words) + facts else []


def check_sentences(text: str, passages: list[Passage]) -> list[SentenceCheck]:
    """Check every sentence of the answer ``text`` against the ``passages`` (numbered 1..)."""
    return [check for _, check in checked_sentences(text, passages)]


def checked_sentences(
    text: str, passages: list[Passage]
) -> list[tuple[tuple[int, int], SentenceCheck]]:
    """Each sentence's (start, end) in ``text`` with its check."""
    anywhere = Support("\n".join(support_text(p) for p in passages))
    each = [Support(support_text(p)) for p in passages]
    checks: list[tuple[tuple[int, int], SentenceCheck]] = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        cites = list(dict.fromkeys(markers(sentence)))
        valid = [n for n in cites if 1 <= n <= len(passages)]
        invalid = [n for n in cites if n not in valid]
        if not strip_markers(sentence):
            continue
        if valid:
            joined = Support("\n".join(support_text(passages[n - 1]) for n in valid))
            missing = joined.missing(sentence)
            missing += [w for w in joined.missing_words(sentence) if w not in missing]
            status = "unsupported" if missing else "supported"
        elif invalid:
            missing, status = [], "invalid"
        else:
            missing = anywhere.missing(sentence)
            status = "unsupported" if missing else "uncited"
        check = SentenceCheck(text=sentence, cites=valid, status=status, missing=missing,
                              invalid_cites=invalid)  # fmt: skip
        if status in ("uncited", "unsupported"):
            check = _attributed(check, each)
        checks.append(((start, end), check))
    return checks


def _attributed(check: SentenceCheck, each: list[Support]) -> SentenceCheck:
    """``check`` cited to the first passage that holds every fact of its sentence, when
    it cited none or one that lacks them; unchanged when no single passage holds them all
    or the sentence states no fact to check."""
    plain = strip_markers(check.text)
    if not numbers(plain) and not names(plain):
        return check
    holder = next((n for n, s in enumerate(each, 1) if not s.missing(check.text)), None)
    if holder is None:
        return check
    return check.model_copy(update={"status": "attributed", "cites": [holder], "missing": [],
                                    "model_cites": check.cites})  # fmt: skip


def best_sentence(passage: Passage, claims: list[str]) -> tuple[int, int]:
    """The sentence of ``passage`` (article offsets) that best backs the ``claims`` citing
    it: most shared facts first, then most shared words."""
    spans = passage.sentences or [(passage.start, passage.end)]
    bad = set(injected_spans(passage))
    claim = " ".join(strip_markers(c) for c in claims)
    facts = {f.value for f in numbers(claim)} | {n.lower() for n in names(claim)}
    words = {w.lower() for w in re.findall(r"\w{3,}", claim)}

    def score(span: tuple[int, int]) -> tuple[int, int, int]:
        text = passage.sentence_text(span)
        have = {f.value for f in numbers(text)} | {n.lower() for n in names(text)}
        shared = {w.lower() for w in re.findall(r"\w{3,}", text)} & words
        return (span not in bad, len(facts & have), len(shared))

    return max(spans, key=score)


def outcome_counts(answers: Iterable[Answer]) -> dict[str, int]:
    """How often each verification case happened over ``answers`` (an evaluation run):
    outcomes (verified, flagged, removed, fallback, error, refused; "none" for answers made
    without a model) and the sentence totals behind them."""
    counts: Counter[str] = Counter()
    for a in answers:
        v = a.verification
        counts[f"outcome_{v.outcome if v else 'none'}"] += 1
        if v:
            counts["sentences_supported"] += v.supported
            counts["sentences_unsupported"] += v.unsupported
            counts["sentences_uncited"] += v.uncited
            if v.attributed:
                counts["sentences_attributed"] += v.attributed
            counts["sentences_removed"] += v.removed
            counts["invalid_citations"] += v.invalid_citations
    return dict(sorted(counts.items()))
