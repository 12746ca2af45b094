"""Property-based tests (hypothesis) over the record mapping and every loader: random records
and files in, never an exception out, every record that holds an article read and stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest import TempPathFactory

from index.articles import Article, normalise_text
from index.json_files import parse_record
from index.loaded import Loaded
from index.loaders import iter_articles
from index.pipeline import Ingestor

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any JSON value, small; text from the whole of Unicode, lone surrogates included.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
# Text that is an article: at least one word. Records hold it or anything else.
article_text = st.text(min_size=1, max_size=200).map(lambda s: f"Word {s} ends here.")
field_names = st.sampled_from(
    [
        "id",
        "url",
        "title",
        "headline",
        "source",
        "outlet",
        "published",
        "date",
        "author",
        "authors",
        "byline",
        "extra",
        "views",
        "text",
        "body",
    ]
)
records = st.builds(
    lambda fields, text: {**fields, "text": text},
    st.dictionaries(field_names, json_values, max_size=8),
    article_text | json_values,
)


def _holds_article(record: dict[str, Any]) -> bool:
    text = record.get("text")
    if text in (None, ""):
        text = record.get("body")
    return isinstance(text, str) and normalise_text(text) != ""


def _check(article: Article) -> None:
    """What the store needs: a non-blank id, text that encodes as UTF-8, an in-range date."""
    assert article.id.strip() and article.text.strip()
    for value in (article.id, article.title, article.text, article.source, article.url or ""):
        value.encode("utf-8")
    json.dumps(article.metadata, ensure_ascii=False).encode("utf-8")
    assert article.content_hash
    assert article.published is None or article.published_ts is not None


@FAST
@given(record=records | json_values)
def test_record_mapping_never_raises_anything_but_a_clear_value_error(record: Any) -> None:
    try:
        article, warnings = parse_record(record)
    except ValueError as exc:
        assert str(exc)
        assert not (isinstance(record, dict) and _holds_article(record))
        return
    _check(article)
    assert all(isinstance(w, str) and w for w in warnings)


@FAST
@given(lines=st.lists(records | json_values | st.text(max_size=40), max_size=8))
def test_jsonl_loader_reads_every_article_line(
    lines: list[Any], tmp_path_factory: TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "dump.jsonl"
    raw = [v if isinstance(v, str) else json.dumps(v) for v in lines]
    path.write_text("\n".join(r.replace("\n", " ") for r in raw) + "\n", errors="surrogatepass")
    items = list(iter_articles([path]))
    articles = [i for i in items if i.article is not None]
    expected = sum(1 for v in lines if isinstance(v, dict) and _holds_article(v))
    assert len(articles) == expected
    for item in articles:
        assert item.article is not None
        _check(item.article)
    assert all(i.error is not None for i in items if i.article is None)


@FAST
@given(
    data=st.binary(max_size=400)
    | st.text(max_size=400).map(lambda s: s.encode("utf-8", "replace")),
    ext=st.sampled_from([".txt", ".md", ".html", ".json", ".rss", ".atom", ".jsonl.gz"]),
)
def test_file_loaders_turn_any_bytes_into_articles_or_errors(
    data: bytes, ext: str, tmp_path_factory: TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("files") / f"random{ext}"
    path.write_bytes(data)
    for item in iter_articles([path]):
        assert (item.article is None) != (item.error is None)
        if item.article is not None:
            _check(item.article)


@SLOW
@given(batch=st.lists(records, min_size=1, max_size=6))
def test_every_valid_record_is_stored(ingestor: Ingestor, batch: list[dict[str, Any]]) -> None:
    def loaded() -> Any:
        for i, record in enumerate(batch):
            try:
                article, warnings = parse_record(record)
            except ValueError as exc:
                from index.errors import LoadError

                yield Loaded(f"rec{i}", error=LoadError(str(exc), f"rec{i}"))
            else:
                yield Loaded(f"rec{i}", article=article, warnings=warnings)

    report = ingestor.ingest(loaded())
    first: dict[str, Article] = {}
    for record in batch:
        if _holds_article(record):
            article = parse_record(record)[0]
            first.setdefault(article.id, article)
    for article_id, article in first.items():
        stored = ingestor.store.get_article(article_id)
        assert stored is not None, report.failed
        assert stored.title == article.title
    assert not [f for f in report.failed if "could not be" in f.reason]
