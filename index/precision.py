"""Embedding precision: which numeric path this machine runs natively, the calibration that
checks a faster path against fp32, and the ONNX export and int8 quantisation themselves
(index/onnx_exports.py makes, checks and keeps the files).

Measured on the 2-core AMD EPYC this project is developed on (bench/RESULTS.md, "Embedding
precision"): torch bf16 runs about twice as fast as fp32 with mean cosine 0.9999 to it; ONNX
Runtime int8 (dynamic, per-channel) agrees to ~0.993 but is no faster than torch fp32 there.
Without native bf16 (AVX2 only) bf16 is emulated and slower, so the choice is made per machine.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "int8")
# a faster path is used only when its vectors agree with fp32 at least this well
MIN_MEAN_COSINE = 0.99

_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}
_INT8_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}


def cpu_flags() -> set[str]:
    """The CPU feature flags of this machine (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_candidates(flags: set[str]) -> list[str]:
    """Faster-than-fp32 paths this CPU runs natively, best first. bf16 comes first: where both
    exist it was the faster and the more faithful one (bench/RESULTS.md)."""
    found = []
    if flags & _BF16_FLAGS:
        found.append("bf16")
    if flags & _INT8_FLAGS:
        found.append("int8")
    return found


# News-like passages of varied length for the calibration batch (no data files needed).
_CALIBRATION_SENTENCES = [
    "The city council approved a $2.3 billion budget on Tuesday after a seven-hour debate.",
    "Officials said about 2,000 National Guard members would be deployed to Los Angeles.",
    "Shares of the chipmaker fell 9% in early trading after it cut its revenue forecast.",
    "The storm knocked out power to more than 400,000 homes across three states.",
    "Negotiators reached a tentative agreement that still needs approval from union members.",
    "The court ruled 6-3 that the agency had exceeded its authority under the 1970 law.",
    "Researchers found that the vaccine reduced hospitalisations by roughly two thirds.",
    "The striker scored twice in the second half to send the club into the final.",
    "Prices rose 0.4% in March, driven by shelter, car insurance and airline fares.",
    "The minister resigned hours after the recording was published by a local newspaper.",
    "Firefighters contained 60 percent of the blaze by Sunday evening, officials said.",
    "The school board voted to delay the start of classes until after Labor Day.",
]


def calibration_texts() -> list[str]:
    """Short sentences and long multi-sentence passages, like real queries and chunks."""
    s = _CALIBRATION_SENTENCES
    long = [" ".join(s[i:] + s[:i]) for i in range(0, len(s), 3)]
    return [*s, *long]


@dataclass
class Calibration:
    """How a path compared with fp32 on the calibration batch."""

    precision: str
    mean_cosine: float
    min_cosine: float
    passed: bool


def calibrate(
    precision: str, reference: np.ndarray, candidate: np.ndarray, threshold: float
) -> Calibration:
    cos = np.sum(reference * candidate, axis=1)
    mean, low = float(np.mean(cos)), float(np.min(cos))
    return Calibration(precision, round(mean, 5), round(low, 5), bool(mean >= threshold))


# -- int8 through ONNX Runtime -------------------------------------------------------------
def model_fingerprint(model_dir: str) -> str:
    """Changes when the model files change, so a stale export is never reused."""
    digest = hashlib.sha256(str(Path(model_dir).resolve()).encode())
    root = Path(model_dir)
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                st = path.stat()
                digest.update(f"{path.relative_to(root)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def export_fp32(transformer: Any, tokenizer: Any, dest: Path) -> Path:
    """Export the transformer (fp32, CPU) to ONNX at ``dest``: a graph from input_ids,
    attention_mask and token_type_ids to the last hidden state, batch and length dynamic."""
    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tokenizer(["a short one", "and a somewhat longer example"], padding=True,
                       return_tensors="pt")  # fmt: skip
    # the tracer's warnings concern decoder-only branches; BERT's graph is checked against
    # fp32 by the calibration (int8) or the agreement check (the light path) instead
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(transformer.float().eval()),
            tuple(sample[n] for n in names),
            str(dest),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return dest


def int8_weight_type(flags: set[str]) -> str:
    """Signed int8 weights where the CPU has VNNI; unsigned elsewhere. Without VNNI, ONNX
    Runtime multiplies u8 activations by s8 weights with VPMADDUBSW, which saturates: on an
    AVX2-only CPU the signed model agreed with fp32 only to mean cosine 0.9898 (CI), under the
    0.99 gate. The u8 kernel does not saturate (0.9918 here), the s8 one is ~30% faster with
    VNNI (bench/RESULTS.md)."""
    return "QInt8" if flags & _INT8_FLAGS else "QUInt8"


def quantize_int8(fp32: Path, dest: Path, weight_type: str | None = None) -> Path:
    """Quantise an fp32 ONNX model's weights to int8 (dynamic, per-channel: per-tensor scales
    were measured at mean cosine 0.94 to fp32, too far off), ONNX Runtime alone; weights of
    ``weight_type`` ("QInt8" or "QUInt8"), by default :func:`int8_weight_type` of this CPU."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    kind = QuantType[weight_type or int8_weight_type(cpu_flags())]
    logging.disable(logging.WARNING)  # the quantiser logs every tensor on the root logger
    try:
        quantize_dynamic(str(fp32), str(dest), weight_type=kind, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)
    return dest


def onnx_session(path: Path, threads: int) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """A function from padded int64 inputs to the last hidden state, via ONNX Runtime."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: v for k, v in inputs.items() if k in wanted}
        return np.asarray(session.run(["last_hidden_state"], feed)[0], dtype=np.float32)

    return run
