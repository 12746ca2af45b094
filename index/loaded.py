"""What every loader shares: the item it yields (:class:`Loaded`), the limits it keeps
(:class:`LoadOptions`), reading a file, gzipped or not, within them, and decoding its bytes
(UTF-8, UTF-16, legacy code pages)."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from index.articles import Article
from index.errors import LoadError
from index.feeds.http import FetchOptions


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
    fetch: FetchOptions = field(default_factory=FetchOptions)  # URLs: how politely
    max_feed_items: int = 500  # articles read from one feed or sitemap


def check_size(article: Article, origin: str, line: int | None, options: LoadOptions) -> None:
    """A LoadError when the article's text is over the ``max_article_chars`` limit."""
    if len(article.text) > options.max_article_chars:
        raise LoadError(
            f"article text is {len(article.text):,} characters, over the limit of "
            f"{options.max_article_chars:,} (setting max_article_chars)",
            origin,
            line,
        )


def open_file(path: Path, gz: bool) -> IO[bytes]:
    """The file's bytes, gunzipped as they are read when ``gz``."""
    return cast(IO[bytes], gzip.open(path, "rb")) if gz else path.open("rb")


def read_whole(path: Path, gz: bool, limit: int) -> bytes:
    """Read a whole-file format, refusing (without reading it all) files over ``limit``."""
    try:
        with open_file(path, gz) as fh:
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


def with_origin(origin: str, warnings: list[str]) -> list[str]:
    """Each warning prefixed with the file (or record) it is about."""
    return [f"{origin}: {w}" for w in warnings]
