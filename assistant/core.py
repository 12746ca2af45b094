"""The ``Assistant``: one object that every face (CLI, UI, API, Slack, evaluation) talks to.

from assistant import Assistant
asst = Assistant.from_settings()
answer = asst.ask("How many Guard members were deployed?")
answer.model_dump()  # the Answer JSON
asst.chat("session-1", "and who ordered it?")
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from assistant import components
from assistant.answering import Answerer, Condenser, RuleCondenser, make_answerer, make_condenser
from assistant.answering.injection import defuse
from assistant.answering.stream import AnswerStream
from assistant.answers import Answer, Passage, Question
from assistant.chat import Turn
from assistant.errors import AssistantError, EmptyIndexError, QuestionError
from assistant.feedback import Feedback, Rating
from assistant.feeds import Feeds
from assistant.library import Library
from assistant.retrieval import Filters, Mode, Retriever
from assistant.settings import Settings
from assistant.state import StateStore, open_state
from index.articles import clean_str
from index.follow import Follower
from index.pipeline import Ingestor
from index.store import ChromaStore

log = logging.getLogger(__name__)


class Assistant:
    """Retrieval, answering, chat sessions and the index, behind one thread-safe object."""

    def __init__(
        self,
        settings: Settings,
        ingestor: Ingestor,
        retriever: Retriever,
        answerer: Answerer,
        condenser: Condenser | None = None,
    ) -> None:
        self.settings = settings
        self.ingestor = ingestor
        self.store: ChromaStore = ingestor.store
        self.retriever = retriever
        self.answerer = answerer
        # rewrites a chat follow-up into a standalone question before retrieval
        self.condenser: Condenser = condenser or RuleCondenser()
        # chat sessions and feedback, where every process of the deployment reads them
        self.state: StateStore = open_state(settings)
        self.library = Library(settings, self.store, ingestor)
        self.feeds = Feeds(settings, self.library)  # subscriptions; polled into this index
        # on a Chroma server: keeps the BM25 index in step with other processes' writes
        self.follower: Follower | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, collection: str | None = None
    ) -> Assistant:
        """Build everything from the settings (environment, settings file, defaults)."""
        settings = settings or Settings.load()
        embedders = components.embedders(settings)
        ingestor = components.ingestor(settings, collection, embedders.query())
        store = ingestor.store
        # cheap when in step; builds the BM25 side for an older index, or catches up with
        # what other processes on a Chroma server wrote
        store.follow()
        retriever = Retriever(
            store,
            ingestor.embedder,
            mode=settings.retrieval_mode,
            candidates=settings.retrieval_candidates,
            recency_days=settings.recency_days,
        )
        answerer = make_answerer(settings, store, embedders.reader(ingestor.embedder))
        asst = cls(settings, ingestor, retriever, answerer, make_condenser(settings, answerer))
        if settings.chroma_host and settings.follow_index:
            asst.follower = Follower(store, settings.follow_interval).start()
        return asst

    def check_ready(self) -> None:
        """Raise StoreUnavailableError unless the index and the state store answer (a
        request or two: callers such as /readyz cache the outcome)."""
        self.store.ping()
        self.state.ping()

    # -- questions -------------------------------------------------------------------------
    def _check(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty: ask something about the articles")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,} (ASSISTANT_MAX_QUESTION_CHARS)"
            )
        if self.store.is_empty():
            raise EmptyIndexError(
                f"the index ({self.settings.data_dir}, collection {self.store.name!r}) holds no "
                "articles yet: add some with `assistant ingest PATH`"
            )
        return " ".join(question.split())

    def _prepare(self, question: str, session_id: str | None) -> tuple[str, Question]:
        """The checked question, and the standalone question to retrieve and answer with."""
        question = self._check(question)
        history = self.state.history(session_id) if session_id else []
        return question, self.condenser.condense(question, history)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        as_of: datetime | None = None,
        session_id: str | None = None,
        mode: Mode | None = None,
    ) -> Answer:
        """Answer one question. With ``session_id`` it is a chat turn: a follow-up is resolved
        against that session's earlier turns, and the turn is added to its history."""
        return self.stream(
            question, k=k, filters=filters, as_of=as_of, session_id=session_id, mode=mode
        ).answer()

    def chat(self, session_id: str, question: str, **options: Any) -> Answer:
        """One turn of the chat ``session_id``."""
        return self.ask(question, session_id=session_id, **options)

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        as_of: datetime | None = None,
        session_id: str | None = None,
        mode: Mode | None = None,
    ) -> AnswerStream:
        """Like :meth:`ask`, as a stream: iterate it for the answer's text as it is written,
        then call its ``answer()`` for the Answer (``cancel()`` stops it).

        Each question logs one line (its id, latency, refused or not, the cited articles'
        ids) and never its text, unless debug logging is on: questions can be sensitive."""
        qid = uuid.uuid4().hex[:12]
        answering = AnswerStream(self._stream(qid, question, k, filters, as_of, session_id, mode))
        return AnswerStream(self._logged(qid, question, session_id, answering))

    def _logged(
        self, qid: str, question: str, session_id: str | None, answering: AnswerStream
    ) -> Iterator[str | Answer]:
        """``answering``'s pieces, and the question's log line once its Answer is ready."""
        started = time.perf_counter()
        result: Answer | None = None
        try:
            yield from answering
            result = answering.answer()
            yield result
        except AssistantError as exc:
            ms = (time.perf_counter() - started) * 1000
            log.info("question %s failed after %.0f ms: %s", qid, ms, type(exc).__name__)
            raise
        finally:
            log.debug("question %s: %r (session %s)", qid, question, session_id)
        if result is not None:
            cited = ",".join(dict.fromkeys(c.article_id for c in result.citations)) or "-"
            log.info(
                "question %s: %.0f ms, %s, cited articles %s",
                qid,
                (time.perf_counter() - started) * 1000,
                "refused" if result.refused else "answered",
                cited,
            )

    def _stream(
        self,
        qid: str,
        question: str,
        k: int | None,
        filters: Filters | None,
        as_of: datetime | None,
        session_id: str | None,
        mode: Mode | None,
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        # a lone surrogate ("\\ud83d" in JSON) would fail the tokenizer and Chroma: replace it
        question = clean_str(question)
        if filters is not None and (filters.sources or filters.authors):
            filters = filters.model_copy(
                update={
                    "sources": [clean_str(s) for s in filters.sources],
                    "authors": [clean_str(a) for a in filters.authors],
                }
            )
        question, standalone = self._prepare(question, session_id)
        got = self.retriever.retrieve(
            str(standalone), k or self.settings.top_k, filters, mode=mode, as_of=as_of
        )
        t = time.perf_counter()
        # articles are untrusted: no answerer reads a sentence that instructs the model
        passages = defuse(got.passages)
        answering = AnswerStream(self.answerer.stream(standalone, passages, as_of))
        yield from answering
        result = answering.answer()
        if not got.passages and filters is not None and not filters.empty:
            result.notices.append("no indexed article matches the filters")
        result.question, result.id = question, qid
        if str(standalone) != question:
            result.standalone_question = str(standalone)
        result.timings_ms = {
            **{f"retrieve_{name}": round(ms, 2) for name, ms in got.timings_ms.items()},
            "answer": round((time.perf_counter() - t) * 1000, 2),
            "total": round((time.perf_counter() - started) * 1000, 2),
        }
        if session_id:
            self.state.add(session_id, Turn(question, standalone, result))
        yield result

    def history(self, session_id: str) -> list[Turn]:
        return self.state.history(session_id)

    def reset(self, session_id: str) -> None:
        self.state.reset(session_id)

    # -- the two steps of an answer, for evaluation -------------------------------------
    def retrieve(self, question: str, k: int, *, as_of: datetime | None = None) -> list[Passage]:
        """The ``k`` passages :meth:`ask` would answer ``question`` from (no filters)."""
        return self.retriever.retrieve(question, k, as_of=as_of).passages

    def read(self, question: str, passages: list[Passage], as_of: datetime | None = None) -> Answer:
        """Answer ``question`` from ``passages`` as :meth:`ask` does after retrieving them."""
        return AnswerStream(self.answerer.stream(question, defuse(passages), as_of)).answer()

    def restore_turn(self, session_id: str, answer: Answer, standalone: str | None = None) -> None:
        """Add an earlier turn to a session, e.g. read back from a Slack thread after a
        restart, or from the messages an OpenAI client sends; ``standalone`` is the form the
        question was answered as, and without it the question is read as the condenser reads
        a follow-up of the turns restored before it."""
        if standalone:
            read_as = Question.read(standalone)
        else:
            read_as = self.condenser.condense(answer.question, self.history(session_id))
        self.state.add(session_id, Turn(answer.question, read_as, answer))

    # -- feedback --------------------------------------------------------------------------
    def record_feedback(
        self, rating: Rating, answer: Answer, channel: str = "ui", **extra: Any
    ) -> Feedback:
        """Keep a thumbs up/down on ``answer`` with every face's feedback, in one place."""
        item = Feedback.on(rating, answer, channel, **extra)
        self.state.record(item)
        return item

    @staticmethod
    def read_feedback(settings: Settings | None = None) -> Iterator[Feedback]:
        """Every recorded feedback, oldest first, from the configured state store (no model
        or index is loaded)."""
        return open_state(settings or Settings.load()).feedback()

    # -- the index -------------------------------------------------------------------------
    @staticmethod
    def open_library(
        settings: Settings | None = None,
        collection: str | None = None,
        *,
        with_model: bool = True,
    ) -> Library:
        """The index alone, for commands that do not answer: with ``with_model=False`` it
        opens in a fraction of a second, for listing, showing, deleting and stats."""
        return Library.open(settings or Settings.load(), collection, with_model=with_model)
