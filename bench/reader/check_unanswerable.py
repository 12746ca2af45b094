"""Check the hand-written unanswerable questions against the 2025 news corpus.

Every question in ``unanswerable.jsonl`` names, in ``absent``, one to three phrases that
must occur in no article of the corpus (title or text, case-insensitive, whole word), so
that the question cannot be answered from the indexed articles. This script checks that,
together with the shape of each record (fields present, ids unique, kind valid, date in
2025, each absent phrase part of the question).

Usage (from the repository root)::

    python bench/reader/check_unanswerable.py [CORPUS] [--questions PATH] [--near]

It prints one line per failing question and a summary ``N questions, M failing``, and
exits 1 when any question fails. ``--near`` also reports, per question, how often the
question's other key terms (its capitalised names, minus the absent phrases) occur in the
corpus, to see which questions sit next to real topics. The corpus is streamed once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = REPO.parent / "shared" / "eval" / "realtimeqa-2025" / "corpus.jsonl.gz"
DEFAULT_QUESTIONS = Path(__file__).resolve().with_name("unanswerable.jsonl")

KINDS = frozenset({"number", "date", "person", "place", "entity", "other"})
FIELDS = ("id", "question", "date", "absent", "kind", "note")
MAX_ABSENT = 3
YEAR = "2025"
# A key term counts as a "near" real topic when this many articles of YEAR contain it.
NEAR_MIN_ARTICLES = 3

_WORD = re.compile(r"\w+")
_COMBINING = re.compile(r"[\u0300-\u036f]")
_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
# Capitalised words that are not topic terms (question words, articles, auxiliaries).
_NOT_KEY = frozenset(
    {
        "a", "an", "and", "at", "by", "did", "do", "does", "for", "from", "has", "have",
        "how", "in", "is", "it", "of", "on", "the", "to", "was", "were", "what", "when",
        "where", "which", "who", "whom", "whose", "why", "will", "with",
    }
)  # fmt: skip


# Lower-case words that may join the capitalised words of one name ("Office of ...").
_JOINERS = frozenset({"of", "de", "del", "la"})
# Capitalised words too generic to show that a question is near a real topic.
_GENERIC = frozenset(
    {
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december", "u.s", "us", "ceo", "office",
        "council", "lab", "capital",
    }
)  # fmt: skip


class Counts(NamedTuple):
    """How many articles contain a phrase: in the whole corpus and among YEAR's articles."""

    total: int
    in_year: int


def normalize(text: str) -> str:
    """Case-fold, unify quotes and dashes, and strip accents, so matching is lenient."""
    text = unicodedata.normalize("NFKD", text.translate(_PUNCT))
    return _COMBINING.sub("", text).casefold()


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word pattern for an already normalised phrase."""
    return re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)")


def iter_articles(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the corpus (JSON lines, gzip or plain), one article at a time."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_questions(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Read the question file; lines that are not JSON objects become problems."""
    questions: list[dict[str, Any]] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            questions.append(record)
    return questions, problems


def count_articles(
    phrases: Iterable[str], articles: Iterable[Mapping[str, Any]]
) -> dict[str, Counts]:
    """Count the articles whose title + text contains each phrase (whole word, any case).

    One pass over ``articles``; a phrase is only searched in articles holding all its words.
    """
    wanted = {normalize(p) for p in phrases if p.strip()}
    compiled = [
        (phrase, frozenset(_WORD.findall(phrase)), phrase_pattern(phrase)) for phrase in wanted
    ]
    total = dict.fromkeys(wanted, 0)
    in_year = dict.fromkeys(wanted, 0)
    for article in articles:
        body = normalize(f"{article.get('title') or ''}\n{article.get('text') or ''}")
        words = set(_WORD.findall(body))
        this_year = str(article.get("published") or "").startswith(YEAR)
        for phrase, needed, pattern in compiled:
            if needed <= words and pattern.search(body):
                total[phrase] += 1
                in_year[phrase] += this_year
    return {phrase: Counts(total[phrase], in_year[phrase]) for phrase in wanted}


def _record_id(record: Mapping[str, Any], index: int) -> str:
    value = record.get("id")
    return value if isinstance(value, str) and value else f"record {index}"


def _absent_phrases(record: Mapping[str, Any]) -> list[str]:
    absent = record.get("absent")
    if not isinstance(absent, list):
        return []
    return [p for p in absent if isinstance(p, str) and p.strip()]


def validate(questions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with the records themselves (fields, ids, kind, date), without the corpus."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, record in enumerate(questions, 1):
        qid = _record_id(record, index)
        for field in FIELDS:
            if field not in record:
                problems.append(f"{qid}: missing field {field!r}")
        for field in ("id", "question", "note"):
            value = record.get(field)
            if field in record and not (isinstance(value, str) and value.strip()):
                problems.append(f"{qid}: {field!r} must be a non-empty string")
        if qid in seen:
            problems.append(f"{qid}: duplicate id")
        seen.add(qid)
        if "kind" in record and record.get("kind") not in KINDS:
            problems.append(f"{qid}: kind {record.get('kind')!r} not in {sorted(KINDS)}")
        if "date" in record:
            problems.extend(f"{qid}: {p}" for p in _date_problems(record.get("date")))
        if "absent" in record:
            problems.extend(f"{qid}: {p}" for p in _absent_problems(record))
    return problems


def _date_problems(value: object) -> list[str]:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return [f"date {value!r} is not YYYY-MM-DD"]
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return [f"date {value!r} is not a valid date"]
    return [] if str(day.year) == YEAR else [f"date {value!r} is not in {YEAR}"]


def _absent_problems(record: Mapping[str, Any]) -> list[str]:
    absent = record.get("absent")
    if not isinstance(absent, list) or not 1 <= len(absent) <= MAX_ABSENT:
        return [f"'absent' must be a list of 1-{MAX_ABSENT} phrases"]
    problems = []
    question = record.get("question")
    question_text = normalize(question) if isinstance(question, str) else ""
    for phrase in absent:
        if not isinstance(phrase, str) or not phrase.strip():
            problems.append(f"absent phrase {phrase!r} is not a non-empty string")
        elif not phrase_pattern(normalize(phrase)).search(question_text):
            problems.append(f"absent phrase {phrase!r} is not part of the question")
    return problems


def corpus_problems(
    questions: Sequence[Mapping[str, Any]], counts: Mapping[str, Counts]
) -> list[str]:
    """Problems for absent phrases that do occur in the corpus, given ``count_articles``."""
    problems: list[str] = []
    for index, record in enumerate(questions, 1):
        qid = _record_id(record, index)
        for phrase in _absent_phrases(record):
            found = counts[normalize(phrase)].total
            if found:
                problems.append(f"{qid}: {phrase!r} occurs in {found} article(s)")
    return problems


def check(
    questions: Sequence[Mapping[str, Any]], articles: Iterable[Mapping[str, Any]]
) -> list[str]:
    """All problems with ``questions`` against ``articles`` (each prefixed with its id)."""
    phrases = {p for record in questions for p in _absent_phrases(record)}
    counts = count_articles(phrases, articles)
    return validate(questions) + corpus_problems(questions, counts)


def key_terms(record: Mapping[str, Any]) -> list[str]:
    """The question's capitalised names (runs of capitalised words), minus absent phrases.

    A run that shares a word with an absent phrase (a first name, say) is left out too, and
    so are generic words such as month names.
    """
    question = record.get("question")
    if not isinstance(question, str):
        return []
    absent_words = {w for p in _absent_phrases(record) for w in _WORD.findall(normalize(p))}
    runs: list[list[str]] = [[]]
    for token in re.findall(r"[\w'.-]+|[^\w\s]", question):
        word = token.strip("'.-").removesuffix("'s")
        capitalised = word[:1].isupper() and word.casefold() not in _NOT_KEY
        if capitalised or (word in _JOINERS and runs[-1]):
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    terms = []
    for run in runs:
        while run and run[-1] in _JOINERS:
            run.pop()
        term = " ".join(run)
        words = set(_WORD.findall(normalize(term)))
        if term and not words & absent_words and term.casefold() not in _GENERIC:
            terms.append(term)
    return list(dict.fromkeys(terms))


def _group(problems: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        key, _, detail = problem.partition(": ")
        grouped.setdefault(key, []).append(detail)
    return grouped


def near_report(questions: Sequence[Mapping[str, Any]], counts: Mapping[str, Counts]) -> int:
    """Print each question's key terms with article counts; return how many are "near"."""
    near = 0
    for index, record in enumerate(questions, 1):
        terms = key_terms(record)
        shown = [(t, counts[normalize(t)]) for t in terms]
        is_near = any(c.in_year >= NEAR_MIN_ARTICLES for _, c in shown)
        near += is_near
        detail = ", ".join(f"{t} {c.total}/{c.in_year}" for t, c in shown) or "-"
        label = "near" if is_near else "far "
        print(f"  {label} {_record_id(record, index)} [{record.get('kind')}] {detail}")
    print(
        f"{near} of {len(questions)} questions near real topics (a key term in >= "
        f"{NEAR_MIN_ARTICLES} articles of {YEAR}; counts shown as all/{YEAR})"
    )
    return near


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument(
        "--near", action="store_true", help="report how often each question's key terms occur"
    )
    args = parser.parse_args(argv)

    questions, parse_problems = load_questions(args.questions)
    phrases = {p for record in questions for p in _absent_phrases(record)}
    if args.near:
        phrases |= {t for record in questions for t in key_terms(record)}
    counts = count_articles(phrases, iter_articles(args.corpus))
    problems = parse_problems + validate(questions) + corpus_problems(questions, counts)

    if args.near:
        near_report(questions, counts)
    failing = _group(problems)
    for key, details in failing.items():
        print(f"FAIL {key}: " + "; ".join(details))
    print(f"{len(questions)} questions, {len(failing)} failing")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
