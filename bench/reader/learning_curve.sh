#!/bin/bash
# The learning curve (bench/RESULTS.md): cross-encoders trained on 2024, then 2023-2024, with
# the shipped recipe (2022-2024 is the shipped run), and their logits on the 2025 and written
# dumps; then `train.py fit --cross --masked --dump bench/out/reader/dump-ce-<years>.pkl
# --dump bench/out/reader/dump-written-ce-<years>.pkl` for each. ~2 h on one core.
cd "$(dirname "$0")/../.."
for years in 2024 2023,2024; do
  tag=${years//,/-}
  out=bench/out/ce/curve-$tag
  mkdir -p $out
  .venv/bin/python bench/reader/cross_encoder.py pairs --years $years --pairs $out/pairs.jsonl > $out/pairs.log 2>&1
  .venv/bin/python bench/reader/cross_encoder.py train --pairs $out/pairs.jsonl --out $out --minutes 60 --threads 1 --epochs 2 > $out/train.log 2>&1
  .venv/bin/python bench/reader/cross_encoder.py export --out $out --model $out/reader-ce.onnx --weight-type QInt8 > $out/export.log 2>&1
  .venv/bin/python bench/reader/train.py cross --dump bench/out/reader/dump.pkl --out bench/out/reader/dump-ce-$tag.pkl --model $out/reader-ce.onnx > $out/cross.log 2>&1
  .venv/bin/python bench/reader/train.py cross --dump bench/out/reader/dump-written.pkl --out bench/out/reader/dump-written-ce-$tag.pkl --model $out/reader-ce.onnx >> $out/cross.log 2>&1
done
echo done > bench/out/ce/curve.done
