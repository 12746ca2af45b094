"""Check the written editor-style question sets over the 2022-2024 articles.

Two kinds of record, one JSON object a line, in ``bench/reader/written/*.jsonl``:

- **detail** (``"type": "detail"``): a question an editor asks about a detail of one story.
  Fields: ``id, type, year, date, kind, question, answer, article_id, evidence``.
  ``answer`` is a string or a list of accepted forms (the first is the canonical one);
  ``evidence`` is the sentence of the article that states it, copied verbatim.
  Checked: the article is in that year's corpus; the evidence is one of its sentences (as
  index/text.py splits it) and not among its first two; an accepted form occurs in the
  evidence as a whole word; no accepted form is in the question. ``--write`` fills
  ``gold_ids``: every article of the year whose text states an accepted form and at least
  half of the question's capitalised names (the "every article stating it" list).
- **near-miss** (``"type": "nearmiss"``): the names and topic are in the corpus, the asked
  fact is in no article. Fields: ``id, type, year, date, kind, question, names, slot,
  article_ids, note``. ``names``: words or phrases of the question that occur in the corpus
  (each must occur, whole word, in at least one of ``article_ids``); ``slot``: the cue words
  of the asked fact ("buried", "quit", "salary"), each a word of the question. Checked: in
  every article of the year that mentions the first name, no sentence holds a slot cue
  (same stem) together with a value of the asked ``kind``: a number for ``number``, a
  month, weekday or year for ``date``, a capitalised word that is not one of the question's
  names (and not the sentence's first word) for ``person``/``place``/``entity``; for
  ``other`` the cue alone. So the checker looks for the asked slot, not for an invented
  phrase.

Usage (repository root, the project's venv)::

    python bench/reader/check_written.py [FILES...] [--write]

Prints one line per failing record and ``N records, M failing``; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.text import split_sentences, stem  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
WRITTEN = Path(__file__).resolve().with_name("written")
KINDS = {"number", "date", "person", "place", "entity", "other"}
DETAIL = ("id", "type", "year", "date", "kind", "question", "answer", "article_id", "evidence")
NEAR = ("id", "type", "year", "date", "kind", "question", "names", "slot", "article_ids")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|"
    r"hundreds?|thousands?|millions?|billions?|half|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|yesterday|today|tomorrow|(19|20)\d\d)\b",
    re.I,
)
_CAP = re.compile(r"(?<![\w.])[A-Z][\w'’-]+")
# capitalised words that name no one and nothing: a sentence's first word is skipped too
_FUNCTION = {
    "the", "a", "an", "he", "she", "it", "they", "we", "i", "his", "her", "their", "this",
    "that", "in", "on", "at", "but", "and", "or", "if", "when", "as", "for", "of", "to",
    "mr", "mrs", "ms", "dr", "cnn", "usa", "today", "associated", "press", "reuters",
}  # fmt: skip


def norm(text: str) -> str:
    table = {0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x2014: "-"}
    return " ".join(text.translate(table).split())


def holds(text: str, phrase: str, lowered: str | None = None) -> bool:
    """``phrase`` in ``text`` as whole words, case and spacing ignored (``lowered``: the
    text already normalised and lower-cased, for a text searched many times)."""
    want = norm(phrase).lower()
    hay = lowered if lowered is not None else norm(text).lower()
    if want not in hay:  # the cheap test first: most articles do not name it at all
        return False
    p = re.escape(want).replace(r"\ ", r"\s+")
    return re.search(rf"(?<!\w){p}(?!\w)", hay) is not None


@lru_cache(maxsize=4)
def lowered(year: int) -> dict[str, str]:
    """Every article text of the year normalised and lower-cased, once (the near-miss check
    reads the whole year for each record: 19 minutes without this)."""
    return {aid: norm(a["text"]).lower() for aid, a in corpus(year).items()}


@lru_cache(maxsize=4)
def corpus(year: int) -> dict[str, dict[str, Any]]:
    path = SHARED / f"realtimeqa-{year}" / "corpus.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {a["id"]: a for a in map(json.loads, fh) if a.get("text")}


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())}


def cap_names(question: str) -> list[str]:
    words = _CAP.findall(question)[1:] if question[:1].isupper() else _CAP.findall(question)
    return [w for w in words if w.lower() not in _FUNCTION]


def answers(rec: dict[str, Any]) -> list[str]:
    a = rec.get("answer")
    return [a] if isinstance(a, str) else [str(x) for x in a or []]


def check_detail(rec: dict[str, Any]) -> list[str]:
    errs: list[str] = []
    art = corpus(int(rec["year"])).get(rec["article_id"])
    if art is None:
        return [f"article {rec['article_id']} not in the {rec['year']} corpus"]
    if art.get("published") and str(rec["date"]) < art["published"]:
        errs.append(f"date is before the article's publication ({art['published']})")
    forms = answers(rec)
    if not forms or not all(f.strip() for f in forms):
        errs.append("no answer")
    sents = [norm(s) for s in sentences(art["text"])]
    ev = norm(rec["evidence"])
    where = [i for i, s in enumerate(sents) if ev == s or (len(ev) > 40 and ev in s)]
    if not where:
        errs.append("evidence is not a sentence of the article (copy it verbatim)")
    elif min(where) < 2:
        errs.append("evidence is among the article's first two sentences")
    if forms and not any(holds(rec["evidence"], f) for f in forms):
        errs.append("no accepted answer form occurs in the evidence as a whole word")
    if any(holds(rec["question"], f) for f in forms):
        errs.append("the question holds its own answer")
    return errs


def slot_hit(sentence: str, rec: dict[str, Any]) -> bool:
    """Whether ``sentence`` may state the asked slot: a cue word with a value of the kind."""
    cues = {stem(c) for c in rec["slot"]}
    if not cues & stems(sentence):
        return False
    kind = rec["kind"]
    if kind == "number":
        return _NUMBER.search(sentence) is not None
    if kind == "date":
        return _DATE.search(sentence) is not None
    if kind in {"person", "place", "entity"}:
        named = {w.lower() for n in rec["names"] for w in _WORD.findall(n)}
        caps = [w for w in _CAP.findall(sentence)[1:] if w.lower() not in _FUNCTION]
        return any(w.lower() not in named for w in caps)
    return True


def check_nearmiss(rec: dict[str, Any]) -> list[str]:
    errs: list[str] = []
    docs = corpus(int(rec["year"]))
    topic = [docs[a] for a in rec["article_ids"] if a in docs]
    if len(topic) != len(rec["article_ids"]) or not topic:
        errs.append("an article_id is not in the corpus")
    for name in rec["names"]:
        if not holds(rec["question"], name):
            errs.append(f"name {name!r} is not in the question")
        if not any(holds(a["title"] + "\n" + a["text"], name) for a in topic):
            errs.append(f"name {name!r} occurs in none of article_ids")
    qstems = stems(rec["question"])
    for cue in rec["slot"]:
        if stem(cue) not in qstems:
            errs.append(f"slot cue {cue!r} is not a word of the question")
    if errs or not rec["names"]:
        return errs or ["no names"]
    first = rec["names"][0]
    # Porter rewrites only a word's end: a cue's stem less its last letter starts the word
    cue = re.compile("|".join(rf"\b{re.escape(stem(c)[:-1] or c)}" for c in rec["slot"]), re.I)
    low = lowered(int(rec["year"]))
    for aid, art in docs.items():
        if not holds(art["text"], first, low[aid]) or not cue.search(art["text"]):
            continue
        for s in sentences(art["text"]):
            if slot_hit(s, rec):
                errs.append(f"{art['id']} may state it: {norm(s)[:160]!r}")
                return errs
    return errs


def gold_ids(rec: dict[str, Any]) -> list[str]:
    names = cap_names(rec["question"])
    need = (len(names) + 1) // 2
    out = []
    low = lowered(int(rec["year"]))
    for aid, art in corpus(int(rec["year"])).items():
        text = art["title"] + "\n" + art["text"]
        if not any(holds(art["text"], f, low[aid]) for f in answers(rec)):
            continue
        if aid == rec["article_id"] or sum(holds(text, n) for n in names) >= need:
            out.append(aid)
    return sorted(out, key=lambda a: a != rec["article_id"])


def check(rec: dict[str, Any], seen: set[str]) -> list[str]:
    kind = rec.get("type")
    fields = DETAIL if kind == "detail" else NEAR if kind == "nearmiss" else None
    if fields is None:
        return ["type must be 'detail' or 'nearmiss'"]
    missing = [f for f in fields if f not in rec]
    if missing:
        return [f"missing fields: {', '.join(missing)}"]
    errs = []
    if rec["id"] in seen:
        errs.append("duplicate id")
    seen.add(rec["id"])
    if rec["kind"] not in KINDS:
        errs.append(f"kind must be one of {sorted(KINDS)}")
    if not re.fullmatch(r"20(22|23|24)-\d\d-\d\d", str(rec["date"])):
        errs.append("date must be YYYY-MM-DD in 2022-2024")
    if not str(rec["question"]).rstrip().endswith("?"):
        errs.append("a question ends with '?'")
    return errs + (check_detail(rec) if kind == "detail" else check_nearmiss(rec))


def print_week(year: int, week: str) -> None:
    """The articles the search returned for a week's quiz questions: id, date, title."""
    qs = SHARED / f"realtimeqa-{year}" / "questions.jsonl"
    ids: dict[str, None] = {}
    for q in map(json.loads, qs.read_text(encoding="utf-8").splitlines()):
        if q["id"].startswith(week):
            ids.update(dict.fromkeys(q.get("result_ids", [])))
    docs = corpus(year)
    for aid in ids:
        if aid in docs:
            a = docs[aid]
            print(f"{aid}  {a['published']}  {len(a['text']):6d}  {a['title'][:90]}")


def files(paths: Iterable[str]) -> list[Path]:
    given = [Path(p) for p in paths]
    return given or sorted(WRITTEN.glob("*.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="default: bench/reader/written/*.jsonl")
    ap.add_argument("--write", action="store_true", help="fill gold_ids of detail records")
    ap.add_argument("--show", nargs=2, metavar=("YEAR", "ID"), help="an article's sentences")
    ap.add_argument("--week", nargs=2, metavar=("YEAR", "YYYYMMDD"), help="a week's articles")
    args = ap.parse_args()
    if args.show:
        art = corpus(int(args.show[0]))[args.show[1]]
        print(f"{art['title']} | {art['source']} | {art['published']}")
        for i, s in enumerate(sentences(art["text"])):
            print(f"[{i}] {s}")
        return
    if args.week:
        print_week(int(args.week[0]), args.week[1])
        return
    seen: set[str] = set()
    total = failing = 0
    counts: dict[str, int] = defaultdict(int)
    for path in files(args.files):
        recs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        for rec in recs:
            total += 1
            errs = check(rec, seen)
            if errs:
                failing += 1
                print(f"{path.name}: {rec.get('id')}: " + "; ".join(errs))
            else:
                counts[rec["type"]] += 1
                if args.write and rec["type"] == "detail":
                    rec["gold_ids"] = gold_ids(rec)
        if args.write:
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
            path.write_text(body, encoding="utf-8")
    print(f"{total} records, {failing} failing ({dict(counts)} pass)")
    sys.exit(1 if failing else 0)


if __name__ == "__main__":
    main()
