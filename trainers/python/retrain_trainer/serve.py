"""A team's own serving, in one process: scores requests with an artifact this trainer made.

    python -m retrain_trainer.serve <artifact file> < requests.ndjson > scores.ndjson

Each request line is {"requestId": ..., "input": {feature: value}}; each answer line is
{"requestId": ..., "score": probability of class 1}. The demo's simulated serving system uses it: the
control plane does not load a scikit-learn artifact, the team serves it and logs its predictions
(POST /api/models/{name}/predictions).
"""
import json
import sys
from pathlib import Path

import joblib

from .contract import Table
from .model import MODEL


def main() -> None:
    saved = joblib.load(Path(sys.argv[1]))
    features = saved["features"]
    requests = [json.loads(line) for line in sys.stdin if line.strip()]
    table = Table(features=features, ids=list(range(len(requests))),
                  columns={f["name"]: [r["input"].get(f["name"]) for r in requests] for f in features})
    scores = MODEL.predict(saved["fitted"], table) if requests else []
    out = sys.stdout
    for r, s in zip(requests, scores):
        out.write(json.dumps({"requestId": r["requestId"], "score": float(s)}) + "\n")


if __name__ == "__main__":
    main()
