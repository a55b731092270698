#!/usr/bin/env python3
"""Times Fairlearn's MetricFrame on the data bench/evaluation.bench.ts wrote, for comparison.

Reads raw little-endian arrays from --dir: labels.u8 (uint8 0/1), scores.f64 (float64),
slice.u8 and group.u8 (uint8 codes). Per repeat it thresholds the scores and builds two
MetricFrames, by slice and by group, with {selection_rate, true_positive_rate,
false_positive_rate, accuracy, precision, recall, count}; timed with time.perf_counter, best of
--repeat. Prints one JSON object on stdout: {"ms", "sliceMs", "groupMs", "versions", "bySlice",
"byGroup"} (the per-group values of the last repeat, so the caller can check both engines agree),
or {"skip": reason} when numpy/fairlearn/scikit-learn are not importable.
"""
import argparse
import json
import sys
import time
from pathlib import Path

try:
    import numpy as np
    import fairlearn
    import sklearn
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, precision_score, recall_score
except ImportError as e:  # the TS side prints a skip line
    print(json.dumps({"skip": f"{e.__class__.__name__}: {e}"}))
    sys.exit(0)


def precision(y_true, y_pred):
    # zero_division=0 only silences the warning for empty predictions; the bench data has none.
    return precision_score(y_true, y_pred, zero_division=0)


METRICS = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "accuracy": accuracy_score,
    "precision": precision,
    "recall": recall_score,
    "count": count,
}


def by_group(mf):
    frame = mf.by_group
    return {col: [float(v) for v in frame[col].to_numpy()] for col in frame.columns}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    d = Path(args.dir)
    labels = np.fromfile(d / "labels.u8", dtype=np.uint8)
    scores = np.fromfile(d / "scores.f64", dtype="<f8")
    slice_codes = np.fromfile(d / "slice.u8", dtype=np.uint8)
    group_codes = np.fromfile(d / "group.u8", dtype=np.uint8)
    assert len(labels) == len(scores) == len(slice_codes) == len(group_codes)

    best = best_slice = best_group = float("inf")
    mf_slice = mf_group = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        y_pred = (scores >= args.threshold).astype(np.uint8)
        mf_slice = MetricFrame(metrics=METRICS, y_true=labels, y_pred=y_pred, sensitive_features=slice_codes)
        t1 = time.perf_counter()
        mf_group = MetricFrame(metrics=METRICS, y_true=labels, y_pred=y_pred, sensitive_features=group_codes)
        t2 = time.perf_counter()
        best = min(best, t2 - t0)
        best_slice = min(best_slice, t1 - t0)
        best_group = min(best_group, t2 - t1)

    print(
        json.dumps(
            {
                "ms": best * 1e3,
                "sliceMs": best_slice * 1e3,
                "groupMs": best_group * 1e3,
                "versions": {"fairlearn": fairlearn.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
                "bySlice": by_group(mf_slice),
                "byGroup": by_group(mf_group),
            }
        )
    )


if __name__ == "__main__":
    main()
