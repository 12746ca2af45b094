"""JSON and JSONL dumps (.json, .jsonl, .ndjson): each record an article through the field
map. JSONL is streamed line by line, so a dump of any size is never held in memory whole and
one bad line is one error."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.articles import Article
from index.errors import LoadError
from index.loaded import Loaded, LoadOptions, check_size, decode_text, open_file, with_origin

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
    if isinstance(authors, list):
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


def load_jsonl(path: Path, gz: bool, options: LoadOptions) -> Iterator[Loaded]:
    """One item per line of a JSONL file, streamed; a corrupt gzip ends it with an error."""
    origin = str(path)
    line_no = 0
    try:
        with open_file(path, gz) as fh:
            for raw_line in fh:  # bytes, decoded line by line so one bad line stays one error
                line_no += 1
                if not raw_line.strip():
                    continue
                item_origin = f"{origin}:{line_no}"
                try:
                    record = json.loads(raw_line.decode("utf-8-sig"))
                except UnicodeDecodeError as exc:
                    err = LoadError(f"line is not UTF-8 ({exc.reason})", origin, line_no)
                    yield Loaded(item_origin, error=err)
                except json.JSONDecodeError as exc:
                    msg = f"malformed JSON ({exc.msg}, column {exc.colno})"
                    yield Loaded(item_origin, error=LoadError(msg, origin, line_no))
                except RecursionError:
                    msg = "JSON nested too deeply to read"
                    yield Loaded(item_origin, error=LoadError(msg, origin, line_no))
                else:
                    yield record_item(record, origin, options, line=line_no)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        msg = (
            f"corrupt or truncated gzip file after line {line_no} ({exc}); "
            "the lines before it were read"
        )
        yield Loaded(origin, error=LoadError(msg, origin))


def load_json(data: bytes, origin: str, options: LoadOptions) -> Iterator[Loaded]:
    """One item per record of a JSON file: an object, a list, or ``{"articles": [...]}``."""
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
        item = record_item(record, origin, options, index=i)
        if item.article is not None:
            item.warnings[:0] = decoded
            decoded = []  # the charset warning is reported once per file
        yield item


def record_item(
    record: Any,
    origin: str,
    options: LoadOptions,
    *,
    line: int | None = None,
    index: int | None = None,
) -> Loaded:
    """One JSON record as an ingest item: the article through the field map, within the
    limits (``max_article_chars``), with warnings for the fields it left out; or the error.
    Every way a record reaches the index goes through here (JSON and JSONL files from the
    CLI, uploads and evaluation's corpus, and the API's JSON body), so they all keep the same
    rules. ``line`` (JSONL) or ``index`` (a list of records) says where it was."""
    where = f"{origin}:{line}" if line is not None else f"{origin}[{index or 0}]"
    try:
        article, warnings = parse_record(record, options.field_map)
        check_size(article, origin, line, options)
    except (LoadError, ValueError) as exc:
        reason = exc.message if isinstance(exc, LoadError) else str(exc)
        if line is None:
            reason = f"record {index or 0}: {reason}"
        return Loaded(where, error=LoadError(reason, origin, line))
    except RecursionError:  # a record nested deeper than the interpreter follows
        return Loaded(where, error=LoadError("JSON nested too deeply to read", origin, line))
    return Loaded(where, article=article, warnings=with_origin(where, warnings))
