"""Getting answers out of the news index: retrieve → answer → cite → present.

The public surface: the faces (``assistant.faces``) and evaluation use these names and
nothing below them.
"""

from assistant.answering.backends import backends as answer_backends
from assistant.answering.refusal import REFUSAL_HINT
from assistant.answering.stream import AnswerStream
from assistant.answers import Answer, Citation, Dated, Passage, Quote, Source, SourceRef
from assistant.core import Assistant
from assistant.dates import parse_date
from assistant.errors import (
    AssistantError,
    ConfigError,
    EmptyIndexError,
    IngestError,
    LoadError,
    QuestionError,
    StoreError,
    StoreUnavailableError,
)
from assistant.feedback import Feedback, Rating
from assistant.feeds import Feeds, parse_interval
from assistant.library import Library, count_items
from assistant.logs import configure_logging
from assistant.preflight import check_answerer
from assistant.retrieval import Filters
from assistant.settings import SECRET_FIELDS, Settings
from index.feeds.poller import FeedPoll
from index.feeds.state import PollerBusyError, Subscription
from index.loaders import GZIP_EXTS, SUPPORTED_EXTS
from index.pipeline import Failure, IngestReport
from index.records import ArticleRecord, StoreStats
from index.sentence_model import offline_environment

# every suffix ingest reads, plain or gzipped (the web app's upload accepts exactly these)
INGEST_SUFFIXES: frozenset[str] = frozenset(SUPPORTED_EXTS | GZIP_EXTS)

__all__ = [
    "INGEST_SUFFIXES",
    "REFUSAL_HINT",
    "SECRET_FIELDS",
    "Answer",
    "AnswerStream",
    "ArticleRecord",
    "Assistant",
    "AssistantError",
    "Citation",
    "ConfigError",
    "Dated",
    "EmptyIndexError",
    "Failure",
    "FeedPoll",
    "Feedback",
    "Feeds",
    "Filters",
    "IngestError",
    "IngestReport",
    "Library",
    "LoadError",
    "Passage",
    "PollerBusyError",
    "QuestionError",
    "Quote",
    "Rating",
    "Settings",
    "Source",
    "SourceRef",
    "StoreError",
    "StoreStats",
    "StoreUnavailableError",
    "Subscription",
    "answer_backends",
    "check_answerer",
    "configure_logging",
    "count_items",
    "offline_environment",
    "parse_date",
    "parse_interval",
]
