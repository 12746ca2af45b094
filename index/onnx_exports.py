"""The embedding model's ONNX exports in the cache dir, and their one owner.

    <cache_dir>/onnx-<model fingerprint>/
        model-fp32.onnx             the fp32 export: the light query embedder (index/light.py)
        model-int8.onnx             its int8 quantisation: the reader's sentence model
                                    (``reader_int8``) and ``embed_precision = int8``
        model-<p>.onnx.checked      the check the file beside it passed (JSON)
        model-<p>.onnx.rejected     the check a file failed (JSON), in place of the file

Each file is made once, under a temporary name beside its place, checked, and renamed into
place only when it passed: the fp32 export against the torch model (every cosine >=
MIN_AGREEMENT on the calibration passages), the int8 quantisation against the fp32 export
(mean cosine >= MIN_MEAN_COSINE). A file is used only with the record of the check it passed
(written before the rename), so a later process trusts it without checking again, and a file
left by anything else (an older release quantised before calibrating) is made anew. A file
that failed leaves only its marker: no process uses it, and none makes it again at every
start. The int8 file is quantised from
the checked fp32 export by ONNX Runtime alone (no torch; ~2 s here, with the weight type this
CPU multiplies without saturating: ``precision.int8_weight_type``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.light import INT8_FILE, LIGHT_FILE, MIN_AGREEMENT, OnnxEmbedder, light_config
from index.precision import (
    MIN_MEAN_COSINE,
    Calibration,
    calibrate,
    calibration_texts,
    model_fingerprint,
    quantize_int8,
)

log = logging.getLogger(__name__)

REJECTED = ".rejected"
CHECKED = ".checked"

Export = Callable[[Path], Path]  # writes the fp32 export of the torch model at a path
Reference = Callable[[list[str]], np.ndarray]  # the torch model's fp32 vectors


class OnnxExports:
    """The ONNX files of the model in ``model_dir`` under ``cache_dir``: made, checked and
    handed out here and nowhere else."""

    def __init__(self, model_dir: str | os.PathLike[str], cache_dir: str | os.PathLike[str]):
        self.model_dir = str(model_dir)
        self.folder = Path(cache_dir) / f"onnx-{model_fingerprint(self.model_dir)}"
        self.fp32 = self.folder / LIGHT_FILE
        self.int8 = self.folder / INT8_FILE

    @staticmethod
    def marker(path: Path) -> Path:
        return path.with_name(path.name + REJECTED)

    @staticmethod
    def _read(record: Path) -> Calibration | None:
        try:
            return Calibration(**json.loads(record.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def rejection(self, path: Path) -> Calibration | None:
        """The check the file at ``path`` failed, when it failed one (then it is not there)."""
        return self._read(self.marker(path))

    def kept(self, path: Path) -> Path | None:
        """``path`` when it holds a file this owner checked and kept, else None."""
        check = self._read(path.with_name(path.name + CHECKED))
        return path if check is not None and check.passed and path.is_file() else None

    def discard(self, path: Path) -> None:
        """Remove a kept file that no longer reads (a truncated copy, another runtime's),
        and its record: the next process that needs it makes it anew."""
        path.unlink(missing_ok=True)
        path.with_name(path.name + CHECKED).unlink(missing_ok=True)

    # -- making them ---------------------------------------------------------------------
    def ensure_fp32(self, export: Export, reference: Reference) -> Path | None:
        """The checked fp32 export, made now if missing: ``export`` writes it, and it is kept
        only when every calibration vector agrees with ``reference``'s (torch fp32) to
        MIN_AGREEMENT. None for a model the light path does not reproduce, after a failed
        check (now or earlier), or when exporting failed (the torch path serves then)."""
        config = light_config(self.model_dir)
        if config is None or self.rejection(self.fp32) is not None:
            return None
        if self.kept(self.fp32):
            return self.fp32
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
                partial = export(Path(tmp) / LIGHT_FILE)
                texts = calibration_texts()
                candidate = OnnxEmbedder("fp32", config, partial).embed_documents(texts)
                cos = np.sum(reference(texts) * candidate, axis=1)
                low = float(np.min(cos))
                check = Calibration("fp32", round(float(np.mean(cos)), 5), round(low, 5),
                                    low >= MIN_AGREEMENT)  # fmt: skip
                return self._keep(partial, self.fp32, check)
        except Exception as exc:  # no exporter, an unsupported graph: the torch path is fine
            log.warning("could not export the model to ONNX (%s); queries stay on torch", exc)
            return None

    def ensure_int8(self) -> Path | None:
        """The checked int8 quantisation of the fp32 export, made now if missing and kept
        only when its vectors agree with the fp32 export's at mean cosine >= MIN_MEAN_COSINE.
        None without a checked fp32 export, after a failed check (now or earlier), or when
        quantising failed."""
        config = light_config(self.model_dir)
        if config is None or self.rejection(self.int8) is not None:
            return None
        if self.kept(self.int8):
            return self.int8
        if not self.kept(self.fp32):
            return None
        try:
            with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
                partial = quantize_int8(self.fp32, Path(tmp) / INT8_FILE)
                texts = calibration_texts()
                fp32 = OnnxEmbedder("fp32", config, self.fp32).embed_documents(texts)
                candidate = OnnxEmbedder("int8", config, partial).embed_documents(texts)
                check = calibrate("int8", fp32, candidate, MIN_MEAN_COSINE)
                return self._keep(partial, self.int8, check)
        except Exception as exc:  # a missing quantiser, a full disk: fp32 serves instead
            log.warning("cannot quantise the ONNX export to int8 (%s)", exc)
            return None

    def _keep(self, partial: Path, dest: Path, check: Calibration) -> Path | None:
        """Rename ``partial`` to ``dest`` when ``check`` passed, its record written first;
        else record the check in ``dest``'s marker and keep nothing. A rename within one
        folder is atomic, so another process sees the whole checked file or none."""
        if not check.passed:
            log.warning(
                "the %s ONNX model agrees with its reference only to cosine %.5f (mean), "
                "%.5f (min); not kept (%s)",
                check.precision,
                check.mean_cosine,
                check.min_cosine,
                self.marker(dest),
            )
            self._record(partial, self.marker(dest), check)
            return None
        self._record(partial, dest.with_name(dest.name + CHECKED), check)
        os.replace(partial, dest)
        log.info("kept the checked %s ONNX model at %s (mean cosine %.5f)", check.precision,
                 dest, check.mean_cosine)  # fmt: skip
        return dest

    @staticmethod
    def _record(partial: Path, record: Path, check: Calibration) -> None:
        """Write ``check`` at ``record`` whole (beside ``partial``, then renamed)."""
        written = partial.with_name(record.name)
        written.write_text(json.dumps(vars(check)) + "\n", encoding="utf-8")
        os.replace(written, record)
