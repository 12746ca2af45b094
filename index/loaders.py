"""Read articles from files: JSON/JSONL dumps (gzipped too), .txt/.md, .html pages, RSS/Atom.

Every loader is a generator of :class:`Loaded` items, one per article or per problem, so a
broken file or line is reported and the rest of the input still goes through. JSONL is
streamed: a dump of any size is never held in memory whole.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from index.articles import Article
from index.errors import LoadError

JSON_EXTS = {".json"}
JSONL_EXTS = {".jsonl", ".ndjson"}
TEXT_EXTS = {".txt", ".text"}
MARKDOWN_EXTS = {".md", ".markdown"}
HTML_EXTS = {".html", ".htm", ".xhtml"}
FEED_EXTS = {".rss", ".atom", ".xml"}
SUPPORTED_EXTS = JSON_EXTS | JSONL_EXTS | TEXT_EXTS | MARKDOWN_EXTS | HTML_EXTS | FEED_EXTS
GZIP_EXTS = {".gz", ".gzip"}  # any supported file may be gzipped

# Field names tried, in order, for each Article field in JSON dumps; a field map overrides.
DEFAULT_FIELDS: dict[str, list[str]] = {
    "id": ["id", "article_id", "doc_id"],
    "url": ["url", "link", "href"],
    "title": ["title", "headline"],
    "text": ["text", "content", "body", "article", "maintext"],
    "source": ["source", "outlet", "publisher", "site", "source_domain"],
    "published": ["published", "date", "published_at", "pubDate", "date_publish"],
    "authors": ["authors", "author", "byline"],
}

_HEADER_LINE = re.compile(
    r"^(title|source|outlet|url|date|published|author|authors)\s*:\s*(.+)$", re.I
)


@dataclass
class Loaded:
    """One item from a loader: an article, or the error for one file or record."""

    origin: str
    article: Article | None = None
    error: LoadError | None = None
    skipped: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class LoadOptions:
    field_map: dict[str, str] = field(default_factory=dict)
    max_file_bytes: int = 20 * 1024 * 1024
    max_article_chars: int = 1_000_000


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[Path, bool]]:
    """Files to read, directories recursed in sorted order; yields (path, named_explicitly)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith(".") for part in rel):
                    yield child, False
        else:
            yield path, True


def file_kind(path: Path) -> tuple[str, bool]:
    """(extension that says the format, gzipped?) for a path such as ``dump.jsonl.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] in GZIP_EXTS
    if gz:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gz


def load_path(
    path: Path, options: LoadOptions | None = None, explicit: bool = True
) -> Iterator[Loaded]:
    """Articles from one file. Unsupported files are errors when named, skipped in a folder."""
    options = options or LoadOptions()
    origin = str(path)
    ext, gz = file_kind(path)
    if not path.exists():
        yield Loaded(origin, error=LoadError("no such file", origin))
        return
    if ext not in SUPPORTED_EXTS:
        msg = f"unsupported file type {''.join(path.suffixes) or '(none)'}"
        yield Loaded(origin, error=LoadError(msg, origin), skipped=not explicit)
        return
    try:
        if path.stat().st_size == 0:
            raise LoadError("empty file", origin)
        if ext in JSONL_EXTS:
            yield from _load_jsonl(path, gz, options)
            return
        data = _read_whole(path, gz, options.max_file_bytes)
        if ext in JSON_EXTS:
            yield from _load_json(data, origin, options)
            return
        if ext in FEED_EXTS:
            yield from _load_feed(data, origin, options)
            return
        text, warnings = decode_text(data, origin)
        parser: Callable[[str, str], tuple[Article, list[str]]] = {
            **dict.fromkeys(TEXT_EXTS, parse_text_file),
            **dict.fromkeys(MARKDOWN_EXTS, parse_markdown_file),
            **dict.fromkeys(HTML_EXTS, parse_html_page),
        }[ext]
        article, noted = parser(text, path.stem)
        _check_size(article, origin, None, options)
        yield Loaded(origin, article=article, warnings=warnings + _noted(origin, noted))
    except LoadError as exc:
        yield Loaded(origin, error=exc)
    except ValueError as exc:
        yield Loaded(origin, error=LoadError(str(exc), origin))
    except RecursionError:
        yield Loaded(origin, error=LoadError("JSON nested too deeply to read", origin))
    except OSError as exc:
        yield Loaded(origin, error=LoadError(f"cannot read file: {exc}", origin))


def _check_size(article: Article, origin: str, line: int | None, options: LoadOptions) -> None:
    if len(article.text) > options.max_article_chars:
        raise LoadError(
            f"article text is {len(article.text):,} characters, over the limit of "
            f"{options.max_article_chars:,} (setting max_article_chars)",
            origin,
            line,
        )


def _open(path: Path, gz: bool) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if gz else path.open("rb")


def _read_whole(path: Path, gz: bool, limit: int) -> bytes:
    """Read a whole-file format, refusing (without reading it all) files over ``limit``."""
    try:
        with _open(path, gz) as fh:
            data = fh.read(limit + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise LoadError(f"corrupt or truncated gzip file ({exc})", str(path)) from exc
    if len(data) > limit:
        raise LoadError(
            f"file is larger than {limit // (1024 * 1024)} MB (setting max_file_mb); "
            "split it or convert it to JSONL, which is streamed",
            str(path),
        )
    return data


def decode_text(data: bytes, origin: str) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, else a detected charset
    with a warning. Binary data is an error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), []
    if b"\x00" in data[:8192]:
        raise LoadError("binary file, not text (it contains NUL bytes)", origin)
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    western = _as_western(data)
    if western is not None:
        return western, [f"{origin}: not UTF-8; decoded as cp1252 (Windows Western)"]
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("not UTF-8 and no text encoding could be detected", origin)
    return str(best), [f"{origin}: not UTF-8; decoded as {best.encoding}"]


# Letters and punctuation of Western European text outside ASCII.
_WESTERN = frozenset(
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœšžÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŸŒŠŽß€‘’‚“”„–—…«»°·¡¿£§©®×\u00a0"
)


def _as_western(data: bytes) -> str | None:
    """``data`` as cp1252 when that reads as Western European text, else None.

    Detectors guess exotic code pages for short Latin-1 text ("Café" as cp775 "Cafķ"), so
    the likeliest legacy encoding is tried first. Other scripts read as cp1252 come out
    mostly accented (Cyrillic "Привет" as "Ïðèâåò") or with symbols (Polish "ż" as "¿"),
    so they fail this test and go to the detector."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    foreign = [c for c in text if ord(c) > 127]
    if any(c not in _WESTERN for c in foreign):
        return None
    letters = sum(c.isalpha() for c in text)
    accented = sum(c.isalpha() for c in foreign)
    return text if letters and accented * 4 <= letters else None


def _pick(record: dict[str, Any], name: str, field_map: dict[str, str]) -> Any:
    if name in field_map:
        value: Any = record
        for part in field_map[name].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    for key in DEFAULT_FIELDS[name]:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def _split_authors(value: str) -> list[str]:
    return [a.strip() for a in re.split(r";|,| and ", value) if a.strip()]


def article_from_record(record: Any, field_map: dict[str, str] | None = None) -> Article:
    """One JSON object to an Article, through the field map; unknown fields become metadata.
    Raises ValueError only for a record that holds no article (see :func:`parse_record`)."""
    return parse_record(record, field_map)[0]


def parse_record(record: Any, field_map: dict[str, str] | None = None) -> tuple[Article, list[str]]:
    """One JSON object to an Article and the warnings for fields it left out (wrong type,
    unreadable date, blank id). ValueError when it is not an object or has no text."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    fmap = field_map or {}
    authors = _pick(record, "authors", fmap)
    if isinstance(authors, str):
        authors = _split_authors(authors)
    elif isinstance(authors, list):
        authors = [a.get("name") if isinstance(a, dict) else a for a in authors]
    used = set(fmap.values()) | {k for ks in DEFAULT_FIELDS.values() for k in ks}
    extra = {
        k: v for k, v in record.items() if k not in used and isinstance(v, str | int | float | bool)
    }
    return Article.parse(
        id=_pick(record, "id", fmap),
        url=_pick(record, "url", fmap),
        title=_pick(record, "title", fmap),
        text=_pick(record, "text", fmap),
        source=_pick(record, "source", fmap),
        published=_pick(record, "published", fmap),
        authors=authors,
        metadata=extra,
    )


def _noted(origin: str, warnings: list[str]) -> list[str]:
    return [f"{origin}: {w}" for w in warnings]


def _load_jsonl(path: Path, gz: bool, options: LoadOptions) -> Iterator[Loaded]:
    origin = str(path)
    line_no = 0
    try:
        with _open(path, gz) as fh:
            for raw_line in fh:  # bytes, decoded line by line so one bad line stays one error
                line_no += 1
                if not raw_line.strip():
                    continue
                item_origin = f"{origin}:{line_no}"
                try:
                    record = json.loads(raw_line.decode("utf-8-sig"))
                    article, warnings = parse_record(record, options.field_map)
                    _check_size(article, origin, line_no, options)
                    yield Loaded(
                        item_origin, article=article, warnings=_noted(item_origin, warnings)
                    )
                except UnicodeDecodeError as exc:
                    err = LoadError(f"line is not UTF-8 ({exc.reason})", origin, line_no)
                    yield Loaded(item_origin, error=err)
                except json.JSONDecodeError as exc:
                    msg = f"malformed JSON ({exc.msg}, column {exc.colno})"
                    yield Loaded(item_origin, error=LoadError(msg, origin, line_no))
                except RecursionError:
                    msg = "JSON nested too deeply to read"
                    yield Loaded(item_origin, error=LoadError(msg, origin, line_no))
                except LoadError as exc:
                    yield Loaded(item_origin, error=exc)
                except ValueError as exc:
                    yield Loaded(item_origin, error=LoadError(str(exc), origin, line_no))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        msg = (
            f"corrupt or truncated gzip file after line {line_no} ({exc}); "
            "the lines before it were read"
        )
        yield Loaded(origin, error=LoadError(msg, origin))


def _load_json(data: bytes, origin: str, options: LoadOptions) -> Iterator[Loaded]:
    text, decoded = decode_text(data, origin)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"malformed JSON ({exc.msg}, line {exc.lineno})", origin, exc.lineno
        ) from exc
    if isinstance(doc, dict) and isinstance(doc.get("articles"), list):
        records: list[Any] = doc["articles"]
    elif isinstance(doc, list):
        records = doc
    else:
        records = [doc]
    for i, record in enumerate(records):
        item_origin = f"{origin}[{i}]"
        try:
            article, warnings = parse_record(record, options.field_map)
            _check_size(article, origin, None, options)
            noted = _noted(item_origin, warnings)
            yield Loaded(item_origin, article=article, warnings=decoded + noted)
            decoded = []  # the charset warning is reported once per file
        except (LoadError, ValueError) as exc:
            yield Loaded(item_origin, error=LoadError(f"record {i}: {exc}", origin))


def _split_header(text: str) -> tuple[dict[str, str], str]:
    """``Title: …`` / ``Date: …`` lines at the top of a text file, up to the first blank line."""
    lines = text.lstrip("\ufeff").split("\n")
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            if header:
                return header, "\n".join(lines[i + 1 :])
            break
        match = _HEADER_LINE.match(line.strip())
        if not match:
            break
        header[match.group(1).lower()] = match.group(2).strip()
    return {}, text


def _article_from_header(
    header: dict[str, str], title: str | None, body: str
) -> tuple[Article, list[str]]:
    return Article.parse(
        text=body,
        title=header.get("title") or title,
        url=header.get("url"),
        source=header.get("source") or header.get("outlet"),
        published=header.get("published") or header.get("date"),
        authors=_split_authors(header.get("author") or header.get("authors") or ""),
    )


def parse_text_file(text: str, stem: str) -> tuple[Article, list[str]]:
    """Plain text: optional ``Key: value`` header; a short first line set off by a blank line
    is the title; otherwise the title is derived from the first sentence."""
    header, body = _split_header(text)
    title = None
    first, sep, rest = body.strip().partition("\n")
    looks_like_title = len(first) <= 150 and not first.rstrip().endswith((".", "?", "!", ":"))
    if sep and rest.startswith("\n") and looks_like_title:
        title, body = first.strip(), rest
    return _article_from_header(header, title, body)


def parse_markdown_file(text: str, stem: str) -> tuple[Article, list[str]]:
    """Markdown: optional header block, a leading ``# Heading`` is the title; markup is kept
    light (emphasis and links reduced to their text)."""
    header, body = _split_header(text)
    stripped = body.lstrip()
    if stripped.startswith("---\n"):  # YAML-style front matter with simple key: value lines
        front_text, sep, rest = stripped[4:].partition("\n---")
        if sep:
            matches = (_HEADER_LINE.match(line.strip()) for line in front_text.split("\n"))
            front = {m.group(1).lower(): m.group(2).strip() for m in matches if m}
            header, body = {**front, **header}, rest.partition("\n")[2]
    title = None
    match = re.match(r"\s*#\s+(.+)\n", body)
    if match:
        title, body = match.group(1).strip(), body[match.end() :]
    body = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", body)
    body = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", body)
    body = re.sub(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1", r"\2", body)
    body = re.sub(r"^#{1,6}\s+", "", body, flags=re.M)
    return _article_from_header(header, title, body)


def parse_html_page(html: str, stem: str) -> tuple[Article, list[str]]:
    """Main text and metadata of a web page through trafilatura: scripts, styles, navigation
    and boilerplate never reach the index."""
    import trafilatura

    extracted: Any = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
    )
    doc: dict[str, Any] | None = extracted.as_dict() if extracted is not None else None
    if not doc or not (doc.get("text") or "").strip():
        raise ValueError("no article text found in the HTML page")
    text, title = str(doc["text"]), doc.get("title")
    first, _, rest = text.strip().partition("\n")
    if title and first.strip() == title.strip() and rest.strip():
        text = rest  # the headline is the title, not the first sentence of the body
    return Article.parse(
        text=text,
        title=title,
        url=doc.get("url"),
        source=doc.get("sitename") or doc.get("hostname"),
        published=doc.get("date"),
        authors=[a.strip() for a in re.split(r";|,", doc.get("author") or "") if a.strip()],
    )


def html_fragment_to_text(fragment: str) -> str:
    """Text of an HTML snippet (a feed entry's content), without scripts or styles."""
    import lxml.html

    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types on junk; plain text is the fallback
        return fragment
    for bad in root.xpath("//script|//style|//noscript|//template|//iframe"):
        bad.drop_tree()
    for block in root.xpath("//p|//br|//div|//li|//h1|//h2|//h3|//h4|//blockquote"):
        block.tail = "\n\n" + (block.tail or "")
    return str(root.text_content())


def _load_feed(data: bytes, origin: str, options: LoadOptions) -> Iterator[Loaded]:
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries:
        reason = f" ({feed.bozo_exception})" if getattr(feed, "bozo", 0) else ""
        raise LoadError(f"no feed entries found{reason}", origin)
    feed_title = feed.feed.get("title", "")
    for i, entry in enumerate(feed.entries):
        item_origin = f"{origin}[{i}]"
        try:
            content = entry.get("content") or []
            html = content[0].get("value", "") if content else entry.get("summary", "")
            authors = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
            published = entry.get("published") or entry.get("updated")
            article, warnings = Article.parse(
                text=html_fragment_to_text(html),
                title=entry.get("title"),
                url=entry.get("link"),
                source=feed_title or None,
                published=published,
                authors=authors,
            )
            _check_size(article, origin, None, options)
            yield Loaded(item_origin, article=article, warnings=_noted(item_origin, warnings))
        except (LoadError, ValueError) as exc:
            yield Loaded(item_origin, error=LoadError(f"entry {i}: {exc}", origin))


def iter_articles(
    paths: Iterable[str | os.PathLike[str]], options: LoadOptions | None = None
) -> Iterator[Loaded]:
    """Everything under ``paths``, file by file, in a stable order."""
    for path, explicit in expand_paths(paths):
        yield from load_path(path, options, explicit)
