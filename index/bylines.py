"""Who wrote an article: author names from bylines, and the normalised key filters match on.

A loader's author field comes in many shapes: a list of names, ``"A. Smith, B. Jones and
C. Lee"``, or a whole byline (``"By Jane Smith, USA TODAY"``). :func:`byline_names` reads any
of them as a list of names, the outlet and "By" left out. When no field names an author,
:func:`text_byline` reads a "By …" line at the head of the article text (the 2022–2025
RealTimeQA dumps carry them as ``By Lindsay H. Jones, USA TODAY Sports`` or ``By Amir Vera,
Bryce Urbany and Cassie Spodak, CNN``).

Chroma metadata is flat, so an article's authors are stored as one display string
(``author``) and the normalised key of each of the first :data:`MAX_KEYS` authors
(``author_key``, ``author_key_2``, …), which an exact-match filter can use.
"""

from __future__ import annotations

import re
import unicodedata

# an author filter matches any of the first three authors of an article
MAX_KEYS = 3
AUTHOR_KEY_FIELDS = ("author_key", *(f"author_key_{i}" for i in range(2, MAX_KEYS + 1)))

# a byline's last comma piece (or trailing words) naming the outlet or a role, not a person
_OUTLET = re.compile(
    r"(?:\b(?:USA TODAY|CNN|AP|Associated Press|Reuters|AFP|Bloomberg|NPR|BBC|Staff|"
    r"Network|Writer|Correspondent|Reporter|Editor|Contributor|Sports|News|Times|Post|"
    r"Journal|Tribune|Gazette|Herald|Press|Daily|Magazine|Media|Wire)\b.*)$",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^(?:[A-Z][a-zà-ÿ'’-]+(?:-[A-Z][a-zà-ÿ'’-]+)?|[A-Z]\.|[A-Z]{2,}|"
                        r"Mc[A-Z][a-z]+|Mac[A-Z][a-z]+|O'[A-Z][a-z]+|de|van|von|da|del|la|le|"
                        r"bin|al|Jr\.?|Sr\.?|II|III)$")  # fmt: skip
# words that start a sentence such as "By Sunday the rain clears", never a name
_NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december the this that then now".split()
)
_BY_LINE = re.compile(r"^\s*By\s+(.{3,160}?)\s*$", re.MULTILINE)
_HEAD_CHARS = 600  # a byline stands at the head of the text, before the story starts


def author_key(name: str) -> str:
    """The key an author filter matches on: no accents, case or punctuation
    (``"José  O'Neil"`` and ``"jose oneil"`` are one author)."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    plain = re.sub(r"^\s*by\s+", "", plain.lower())
    plain = re.sub(r"['’.]", "", plain)
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _is_name(words: list[str]) -> bool:
    if not 2 <= len(words) <= 5 or words[0].lower() in _NOT_NAMES:
        return False
    return all(_NAME_WORD.match(w) for w in words)


def _title_case(name: str) -> str:
    """``RANDALL CHASE`` as ``Randall Chase``; names already in mixed case are kept."""
    return name.title() if name.isupper() else name


def byline_names(value: str, *, strict: bool = False) -> list[str]:
    """The people a byline or author field names: ``"By Jane Smith and Tom Reyes, USA
    TODAY"`` is Jane Smith and Tom Reyes. A field that names nobody this way (``"Reuters"``,
    a pen name) is kept as written, unless ``strict`` (a line of article text, which must
    read as a byline of names)."""
    text = " ".join(value.split())
    text = re.sub(r"^by\s+", "", text, flags=re.IGNORECASE)
    text = re.split(r"(?<=[a-z]{2})\.\s|\|| / ", text)[0]  # "John Carlisle. Visuals by Ryan Garza"
    names = []
    for piece in re.split(r",|;|\band\b|&", text):
        # trailing outlet or role words: "Grant Schulte Associated Press", "CNN Staff"
        words = _OUTLET.sub("", piece).split()
        if _is_name(words):
            names.append(_title_case(" ".join(words)))
    if names or strict:
        return names
    kept = text.strip(" ,;")
    return [kept] if 0 < len(kept) <= 100 else []


def text_byline(text: str) -> list[str]:
    """The authors a "By …" line at the head of ``text`` names (empty when there is none)."""
    for m in _BY_LINE.finditer(text[:_HEAD_CHARS]):
        names = byline_names(m.group(1), strict=True)
        if names:
            return names
    return []


def authors_of(fields: list[str], text: str) -> list[str]:
    """An article's authors: the names its author fields give (each read as a byline), else
    those of a "By …" line at the head of its ``text``."""
    names = [n for value in fields for n in byline_names(value)]
    return list(dict.fromkeys(names)) or text_byline(text)


def wrote(authors: list[str], names: list[str]) -> bool:
    """Whether any of ``names`` is one of ``authors`` (matched on :func:`author_key`)."""
    keys = {author_key(n) for n in names} - {""}
    return bool(keys & {author_key(a) for a in authors})


def author_fields(authors: list[str]) -> dict[str, str]:
    """The flat metadata of an article's authors: ``author`` to show, and the keys to
    filter on; nothing when there are none."""
    names = [a for a in authors if a.strip()]
    if not names:
        return {}
    fields = {"author": ", ".join(names)}
    keys = list(dict.fromkeys(k for k in map(author_key, names) if k))
    for field, key in zip(AUTHOR_KEY_FIELDS, keys, strict=False):
        fields[field] = key
    return fields


def author_where(names: list[str]) -> dict[str, object] | None:
    """The Chroma filter for articles any of ``names`` wrote (as one of their first
    authors); None for no names."""
    keys = list(dict.fromkeys(k for k in map(author_key, names) if k))
    clauses: list[dict[str, object]] = [{f: {"$in": keys}} for f in AUTHOR_KEY_FIELDS]
    return {"$or": clauses} if keys else None
