"""The reader's cross-encoder: question and sentence read together, one logit for "this
sentence answers the question".

all-MiniLM-L6-v2 fine-tuned here on 2022-2024 news questions (bench/reader/cross_encoder.py;
the model card is reader-ce-card.md beside the weights), shipped as one int8 ONNX file and run
with ONNX Runtime and the base model's tokenizer: no torch at question time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError

MAX_LENGTH = 96  # word-pieces of question + title, sentence and neighbours
MAX_QUESTION = 48  # of which the question's at most
MODEL_FILE = "reader-ce.onnx"
_CONTEXT_CHARS = 400


def pair_text(title: str, sentence: str, context: str) -> str:
    """The second segment: title, sentence, neighbours, as the model was trained (truncation
    cuts from the end, so the neighbours go first; a long title can still cut the sentence)."""
    title = " ".join(title.split())[:160]
    return f"{title} | {' '.join(sentence.split())} | {' '.join(context.split())[:_CONTEXT_CHARS]}"


def packaged_model() -> Path | None:
    path = Path(str(resources.files("assistant.answering").joinpath(MODEL_FILE)))
    return path if path.is_file() else None


class CrossEncoderScorer:
    """Scores (title, sentence, neighbours) rows against a question."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index.sentence_model import DEFAULT_MODEL, resolve_model

        try:
            tok = Tokenizer.from_file(str(Path(resolve_model(DEFAULT_MODEL)) / "tokenizer.json"))
            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, threads)
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a missing or unreadable file: say which and what to do
            raise ConfigError(
                f"cannot load the reader's cross-encoder {path}: {exc}; retrain it with "
                "bench/reader/cross_encoder.py, point ASSISTANT_READER_CROSS_ENCODER at a "
                "readable file, or set ASSISTANT_READER_MODEL to a model fitted without it"
            ) from exc
        # a copy without truncation or padding (the base model's file pads to 128) measures
        # the question: truncation "only_second" refuses a single sequence
        self._plain = Tokenizer.from_str(tok.to_str())
        self._plain.no_truncation()
        self._plain.no_padding()
        tok.enable_truncation(MAX_LENGTH, strategy="only_second")
        tok.enable_padding()
        self.tokenizer = tok
        self._inputs = {i.name for i in self.session.get_inputs()}
        # one session shared by the API's and the web app's worker threads
        self._lock = threading.Lock()

    def clip_question(self, question: str) -> str:
        """The question, cut to :data:`MAX_QUESTION` word-pieces: truncation takes only from
        the sentence's side, and a longer question would leave it no room (the tokenizer
        raises)."""
        q = " ".join(question.split())
        enc = self._plain.encode(q, add_special_tokens=False)
        if len(enc.ids) <= MAX_QUESTION:
            return q
        return q[: enc.offsets[MAX_QUESTION - 1][1]]

    def logits(self, question: str, rows: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """One logit per (title, sentence, neighbours) row."""
        if not rows:
            return np.zeros(0)
        q = self.clip_question(question)
        encs = self.tokenizer.encode_batch([(q, pair_text(*r)) for r in rows])
        feed: dict[str, Any] = {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }
        with self._lock:
            out = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return np.asarray(out[0], dtype=np.float64).reshape(len(rows))


@lru_cache(maxsize=2)
def load_scorer(path: str | None = None) -> CrossEncoderScorer | None:
    """The cross-encoder at ``path``, else the packaged one; None when none ships."""
    where = Path(path) if path else packaged_model()
    return CrossEncoderScorer(where) if where is not None else None
