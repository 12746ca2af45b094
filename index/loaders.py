"""Read articles from files: JSON/JSONL dumps (gzipped too), .txt/.md, .html pages, RSS/Atom;
and from URLs (feeds, sitemaps, pages: ``index.feeds``).

This module holds the one list of suffixes ingest reads and picks the reader for a path; each
family of formats has its own module (``index.json_files``, ``index.text_files``,
``index.web_files``), and what they share is in ``index.loaded``.

Every loader is a generator of :class:`Loaded` items, one per article or per problem, so a
broken file or line is reported and the rest of the input still goes through. JSONL is
streamed: a dump of any size is never held in memory whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from index.articles import Article
from index.errors import LoadError
from index.feeds.http import Fetcher, is_url
from index.feeds.sources import load_url
from index.json_files import load_json, load_jsonl
from index.loaded import Loaded, LoadOptions, check_size, decode_text, read_whole, with_origin
from index.text_files import parse_markdown_file, parse_text_file
from index.web_files import load_feed, parse_html_page

JSON_EXTS = {".json"}
JSONL_EXTS = {".jsonl", ".ndjson"}
TEXT_EXTS = {".txt", ".text"}
MARKDOWN_EXTS = {".md", ".markdown"}
HTML_EXTS = {".html", ".htm", ".xhtml"}
FEED_EXTS = {".rss", ".atom", ".xml"}
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # ftp://, file://: not fetched
SUPPORTED_EXTS = JSON_EXTS | JSONL_EXTS | TEXT_EXTS | MARKDOWN_EXTS | HTML_EXTS | FEED_EXTS
GZIP_EXTS = {".gz", ".gzip"}  # any supported file may be gzipped


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
            yield from load_jsonl(path, gz, options)
            return
        data = read_whole(path, gz, options.max_file_bytes)
        if ext in JSON_EXTS:
            yield from load_json(data, origin, options)
            return
        if ext in FEED_EXTS:
            yield from load_feed(data, origin, options)
            return
        text, warnings = decode_text(data, origin)
        parser: Callable[[str, str], tuple[Article, list[str]]] = {
            **dict.fromkeys(TEXT_EXTS, parse_text_file),
            **dict.fromkeys(MARKDOWN_EXTS, parse_markdown_file),
            **dict.fromkeys(HTML_EXTS, parse_html_page),
        }[ext]
        article, noted = parser(text, path.stem)
        check_size(article, origin, None, options)
        yield Loaded(origin, article=article, warnings=warnings + with_origin(origin, noted))
    except LoadError as exc:
        yield Loaded(origin, error=exc)
    except ValueError as exc:
        yield Loaded(origin, error=LoadError(str(exc), origin))
    except RecursionError:
        yield Loaded(origin, error=LoadError("JSON nested too deeply to read", origin))
    except OSError as exc:
        yield Loaded(origin, error=LoadError(f"cannot read file: {exc}", origin))


def iter_articles(
    paths: Iterable[str | os.PathLike[str]], options: LoadOptions | None = None
) -> Iterator[Loaded]:
    """Everything under ``paths``, file by file, in a stable order; an http(s) URL among
    them is read as a feed, a sitemap or a page (index/feeds/sources.py), its articles
    kept to the same limits as a file's."""
    options = options or LoadOptions()
    fetcher: Fetcher | None = None  # one per run: robots.txt and each host's turn shared
    for raw in paths:
        if is_url(raw):
            fetcher = fetcher or Fetcher(options.fetch, options.max_file_bytes)
            yield from load_url(str(raw).strip(), options, fetcher)
            continue
        if isinstance(raw, str) and _OTHER_SCHEME.match(raw.strip()):
            origin = raw.strip()
            yield Loaded(origin, error=LoadError("only http(s) URLs are fetched", origin))
            continue
        for path, explicit in expand_paths([raw]):
            yield from load_path(path, options, explicit)
