"""Plain text and Markdown files (.txt, .md): an optional ``Key: value`` header (YAML-style
front matter in Markdown), the title, and the body with light markup removed."""

from __future__ import annotations

import re

from index.articles import Article

_HEADER_LINE = re.compile(
    r"^(title|source|outlet|url|date|published|author|authors)\s*:\s*(.+)$", re.I
)


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
        authors=header.get("author") or header.get("authors"),
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
