#!/usr/bin/env python3
"""Times crowd-kit's DawidSkene on the label rows bench/dawidSkene.bench.ts wrote, for comparison.

Reads from --dir: labels.csv (worker,task,label; all strings), items.txt and categories.txt (the
TypeScript side's item and category order, one per line). Per repeat it runs
crowdkit.aggregation.DawidSkene(n_iter=100, tol=1e-5).fit on the frame, timed with
time.perf_counter, best of --repeat, except that it stops repeating after a fit slower than
--max-seconds (a 1M-label fit takes minutes; one run is then accurate enough). Reading the CSV is
timed separately and not counted. Writes
labels.u8 (category code per item, in items.txt order) and posteriors.f64 (items x categories,
row-major, little-endian) of the last fit to --dir, and prints one JSON object on stdout:
{"ms", "fits", "readMs", "iterations", "versions"}, or {"skip": reason} when crowd-kit/pandas/numpy are not
importable.
"""
import argparse
import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

try:
    import numpy as np
    import pandas as pd
    from crowdkit.aggregation import DawidSkene
except ImportError as e:  # the TS side prints a skip line
    print(json.dumps({"skip": f"{e.__class__.__name__}: {e}"}))
    sys.exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    args = ap.parse_args()
    d = Path(args.dir)
    t0 = time.perf_counter()
    df = pd.read_csv(d / "labels.csv", dtype=str)
    read_ms = (time.perf_counter() - t0) * 1e3
    items = (d / "items.txt").read_text().split()
    categories = (d / "categories.txt").read_text().split()

    best = float("inf")
    ds = None
    fits = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ds = DawidSkene(n_iter=100, tol=1e-5).fit(df)
        elapsed = time.perf_counter() - t0
        best = min(best, elapsed)
        fits += 1
        if elapsed > args.max_seconds:
            break

    probas = ds.probas_.reindex(index=items, columns=categories)
    assert not probas.isna().any().any(), "crowd-kit probas miss items or categories"
    probas.to_numpy(dtype="<f8").tofile(d / "posteriors.f64")
    code = {c: k for k, c in enumerate(categories)}
    np.array([code[v] for v in ds.labels_.reindex(items)], dtype=np.uint8).tofile(d / "labels.u8")
    print(
        json.dumps(
            {
                "ms": best * 1e3,
                "fits": fits,
                "readMs": read_ms,
                "iterations": len(ds.loss_history_),
                "versions": {
                    "crowd-kit": version("crowd-kit"),
                    "pandas": pd.__version__,
                    "numpy": np.__version__,
                    "python": platform.python_version(),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
