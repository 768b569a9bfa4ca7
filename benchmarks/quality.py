"""Measure generated digits against the quality bar.

    python benchmarks/quality.py SAMPLES.npy [--train TRAIN.npy]

SAMPLES.npy: float32 (N, 28, 28) in [0, 1], N = 1,000 for the bar as calibrated. Prints the report
as JSON, then a table of PASS/FAIL per bar. Exits 0 either way: this is a measurement, not a gate.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# run as a file from the repository root, before gan_core is an installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import metrics  # noqa: E402


def load_samples(path: Path) -> np.ndarray:
    try:
        samples = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: cannot read as a .npy array ({e})")
    if samples.ndim not in (3, 4) or samples.shape[-2:] != (28, 28):
        sys.exit(f"{path}: shape {samples.shape}; expected (N, 28, 28)")
    if samples.dtype != np.uint8 and (samples.min() < 0 or samples.max() > 1):
        sys.exit(f"{path}: values in [{samples.min():.3g}, {samples.max():.3g}]; expected [0, 1]")
    return samples


def table(report: dict) -> str:
    verdicts = metrics.passes(report)
    rows = [f"{'metric':<16} {'value':>8}  {'bar':<8} verdict"]
    for key, bar in metrics.QUALITY_BAR.items():
        sign = ">=" if key in metrics.AT_LEAST else "<="
        rows.append(f"{key:<16} {report[key]:8.3f}  {sign} {bar:<5} {'PASS' if verdicts[key] else 'FAIL'}")
    rows.append(f"{'overall':<16} {'':8}  {'':8} {'PASS' if all(verdicts.values()) else 'FAIL'}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="quality report of generated digits")
    parser.add_argument("samples", type=Path, help="float32 (N, 28, 28) in [0, 1]")
    parser.add_argument("--train", type=Path, help="the GAN's training images for near_copies "
                        "(default: the bundled digits)")
    args = parser.parse_args()
    train = load_samples(args.train) if args.train else None
    report = metrics.quality_report(load_samples(args.samples), train_images=train)
    # one key per line, the histogram on one line: valid JSON a reader can scan
    print("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in report.items()) + "\n}")
    print(table(report))


if __name__ == "__main__":
    main()
