"""The trainer contract v1 (trainers/contract/README.md), the part every trainer needs whatever it trains.

It serves `trainer.describe`, `trainer.train` and `trainer.score` for a Model (model.py is the
scikit-learn one): it reads examples from the data plane as NDJSON (streamed, resumed with offset=),
keeps one artifact per job key (temp file then rename, so a crash or a cancel leaves none half
written; a finished job's artifact is answered again without training), puts scores back, heartbeats
while it works and stops when cancelled. Blocking work runs in threads; the activity's own loop
heartbeats, so the worker's event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from temporalio import activity
from temporalio.exceptions import ApplicationError

CONTRACT_VERSION = 1
HEARTBEAT_SECONDS = 2.0
READ_RETRIES = 3


class Model(Protocol):
    """What a team writes to plug its own training in (model.py is the reference)."""

    name: str
    version: str
    params_schema: dict[str, Any]
    label_sets: list[str]
    feature_kinds: list[str]
    source_files: list[Path]

    def check(self, params: dict[str, Any], features: list[dict[str, Any]]) -> None: ...
    def fit(self, table: Table, params: dict[str, Any], seed: int, should_stop: Callable[[], bool]) -> tuple[Any, dict[str, float]]: ...
    def predict(self, fitted: Any, table: Table) -> Any: ...


def bad_params(message: str) -> ApplicationError:
    return ApplicationError(message, type="TrainerBadParams", non_retryable=True)


def bad_data(message: str) -> ApplicationError:
    return ApplicationError(message, type="TrainerBadData", non_retryable=True)


@dataclass
class Table:
    """Rows read from the data plane, by column: `columns[name][i]` is row i's value (None when missing)."""

    features: list[dict[str, Any]]
    ids: list[int] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)
    labels: list[int] = field(default_factory=list)
    weights: list[float] | None = None
    # Training rows' ages in days at the snapshot's asOf (the data plane's `ageDays`; None: undated).
    ages: list[float | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


class Stopped(Exception):
    """The activity was cancelled: a worker thread gives up its work."""


class Contract:
    def __init__(self, model: Model, token: str, artifacts_dir: Path):
        self.model = model
        self.token = token
        self.artifacts_dir = artifacts_dir.resolve()
        self.validator = Draft202012Validator(model.params_schema)
        self.code_digest = "sha256:" + code_digest(model.source_files)

    def trainer(self) -> dict[str, str]:
        return {"name": self.model.name, "version": self.model.version, "codeDigest": self.code_digest}

    # -- activities --------------------------------------------------------------------------------

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="trainer.describe")
        async def describe() -> dict[str, Any]:
            return {"contractVersion": CONTRACT_VERSION, **self.trainer(), "paramsSchema": self.model.params_schema,
                    "labelSets": self.model.label_sets, "featureKinds": self.model.feature_kinds}

        @activity.defn(name="trainer.train")
        async def train(job: dict[str, Any]) -> dict[str, Any]:
            return await self.train(job)

        @activity.defn(name="trainer.score")
        async def score(job: dict[str, Any]) -> dict[str, Any]:
            return await self.score(job)

        return [describe, train, score]

    async def train(self, job: dict[str, Any]) -> dict[str, Any]:
        check_version(job)
        key = job["jobKey"]
        params = self.params(job.get("params") or {})
        features = job["model"]["features"]
        if features is not None:
            self.model.check(params, features)
        path = self.artifact_path(key)
        done = path.with_suffix(".json")
        fingerprint = sha256_hex(json.dumps({"params": params, "seed": job["seed"], "data": job["data"], "features": features}, sort_keys=True).encode())
        # A retried job answers its finished artifact again (one artifact per key) instead of training twice.
        if path.exists() and done.exists():
            answer = json.loads(done.read_text())
            if answer.get("fingerprint") == fingerprint and answer["artifact"]["sha256"] == "sha256:" + file_sha256(path):
                return answer["output"]
        started = time.monotonic()
        stop = threading.Event()
        ref = job["data"]["train"]
        table = await in_thread(lambda: self.read(ref["url"], ref["rows"], features, stop, labelled=True), stop, "reading")
        if len(set(table.labels)) < 2:
            raise bad_data(f"the training data holds one class only ({len(table)} rows, all labelled {table.labels[0] if table.labels else '-'}); train needs both 0 and 1")
        if features is None:
            self.model.check(params, table.features)
        fitted, metrics = await in_thread(lambda: self.model.fit(table, params, job["seed"], stop.is_set), stop, "fitting")
        if stop.is_set():
            raise asyncio.CancelledError()
        artifact = await in_thread(lambda: self.keep({"fitted": fitted, "features": table.features}, path, stop), stop, "writing")
        output = {"contractVersion": CONTRACT_VERSION, "jobKey": key, "artifact": artifact, "trainedOn": len(table),
                  "trainer": self.trainer(), "metrics": {**metrics, "seconds": round(time.monotonic() - started, 3)}}
        atomic_write(done, json.dumps({"jobKey": key, "fingerprint": fingerprint, "artifact": artifact, "output": output}).encode())
        return output

    async def score(self, job: dict[str, Any]) -> dict[str, Any]:
        check_version(job)
        stop = threading.Event()
        saved = await in_thread(lambda: self.load(job["artifact"], job["data"]["examples"]["url"]), stop, "loading")
        ref = job["data"]["examples"]
        table = await in_thread(lambda: self.read(ref["url"], ref["rows"], saved["features"], stop, labelled=False), stop, "reading")
        scores = await in_thread(lambda: self.predict(saved["fitted"], table, stop), stop, "scoring")
        answer = await in_thread(lambda: self.put_scores(job["scores"]["url"], table.ids, scores), stop, "uploading")
        return {"contractVersion": CONTRACT_VERSION, "jobKey": job["jobKey"], "scored": answer["scored"], "sha256": answer["sha256"]}

    # -- params ------------------------------------------------------------------------------------

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        error = best_match(self.validator.iter_errors(given))
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path)
            raise bad_params(f"params{'.' + where if where else ''}: {error.message}")
        defaults = {k: v["default"] for k, v in self.model.params_schema.get("properties", {}).items() if "default" in v}
        return {**defaults, **given}

    # -- data plane --------------------------------------------------------------------------------

    def request(self, url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> Any:
        req = urllib.request.Request(url, method=method, data=body, headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=60)
        except urllib.error.HTTPError as e:
            detail = e.read(2000).decode("utf-8", "replace")
            # A refusal of our own request will not change on retry; a server error may.
            raise ApplicationError(f"{method} {strip_query(url)} answered {e.code}: {detail}", type="TrainerDataPlane",
                                   non_retryable=400 <= e.code < 500 and e.code not in (408, 429)) from None

    def read(self, url: str, rows: int, features: list[dict[str, Any]] | None, stop: threading.Event, labelled: bool) -> Table:
        """Streams the NDJSON line by line; on a dropped connection it asks again from offset=<rows read>."""
        table = Table(features=features or [])
        inputs: list[dict[str, Any]] = []  # only for a model without a feature schema (text fields by name)
        weights: list[float] = []
        ages: list[float | None] = []
        failures = 0
        while True:
            try:
                with self.request(with_query(url, offset=len(table.ids)) if table.ids else url) as resp:
                    for raw in resp:
                        if stop.is_set():
                            raise Stopped()
                        if not raw.strip():
                            continue
                        line = json.loads(raw)
                        table.ids.append(line["exampleId"])
                        if labelled:
                            if line.get("label") not in (0, 1):
                                raise bad_data(f"training line {len(table.ids)} (exampleId {line['exampleId']}) has no label 0 or 1")
                            table.labels.append(line["label"])
                        weights.append(float(line.get("weight", 1.0)))
                        ages.append(float(line["ageDays"]) if line.get("ageDays") is not None else None)
                        if features is None:
                            inputs.append(line["input"])
                        else:
                            for f in features:
                                table.columns.setdefault(f["name"], []).append(line["input"].get(f["name"]))
                break
            except (TimeoutError, http.client.IncompleteRead, ConnectionError, urllib.error.URLError, json.JSONDecodeError) as e:
                failures += 1
                if failures > READ_RETRIES:
                    raise ApplicationError(f"reading {strip_query(url)} failed after {len(table.ids)} of {rows} rows: {e}") from None
                time.sleep(0.2 * failures)
        if len(table.ids) != rows:
            raise ApplicationError(f"{strip_query(url)} gave {len(table.ids)} rows, the reference says {rows}")
        if features is None:
            # A model registered without a feature schema: every input field is text.
            names = sorted({k for i in inputs for k in i})
            table.features = [{"name": n, "kind": "text", "missing": True} for n in names]
            table.columns = {n: [i.get(n) for i in inputs] for n in names}
        if any(w != 1.0 for w in weights):
            table.weights = weights
        if any(a is not None for a in ages):
            table.ages = ages
        return table

    def put_scores(self, url: str, ids: list[int], scores: Any) -> dict[str, Any]:
        def lines() -> Iterable[bytes]:
            for start in range(0, len(ids), 10_000):
                yield "".join(json.dumps({"exampleId": i, "score": float(s)}) + "\n" for i, s in zip(ids[start:start + 10_000], scores[start:start + 10_000])).encode()

        parts = urllib.parse.urlsplit(url)
        conn = (http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection)(parts.netloc, timeout=120)
        try:
            # Chunked, so the body is never one string whatever the number of rows.
            conn.request("PUT", parts.path + ("?" + parts.query if parts.query else ""), body=lines(), encode_chunked=True,
                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/x-ndjson"})
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if resp.status != 200:
            raise ApplicationError(f"PUT {strip_query(url)} answered {resp.status}: {body[:2000]}", type="TrainerDataPlane",
                                   non_retryable=400 <= resp.status < 500 and resp.status not in (408, 429))
        return json.loads(body)

    # -- artifacts ---------------------------------------------------------------------------------

    def artifact_path(self, job_key: str) -> Path:
        return self.artifacts_dir / (sha256_hex(job_key.encode()) + ".joblib")

    def keep(self, saved: dict[str, Any], path: Path, stop: threading.Event) -> dict[str, Any]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                joblib.dump(saved, f)
                f.flush()
                os.fsync(f.fileno())
            if stop.is_set():
                raise Stopped()
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return {"uri": path.as_uri(), "sha256": "sha256:" + file_sha256(path), "size": path.stat().st_size}

    def load(self, ref: dict[str, Any], data_url: str) -> dict[str, Any]:
        uri = ref["uri"]
        if uri.startswith("file:"):
            data = Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path)).read_bytes()
        elif uri.startswith("retrain-store:"):
            # The store lives beside the data plane (same origin as the examples' URL).
            base = urllib.parse.urlsplit(data_url)
            with self.request(f"{base.scheme}://{base.netloc}/api/trainer/artifacts/{uri[len('retrain-store:'):]}") as resp:
                data = resp.read()
        else:
            raise bad_data(f"artifact {uri}: this trainer reads file: and retrain-store: artifacts only")
        if "sha256:" + sha256_hex(data) != ref["sha256"]:
            raise ApplicationError(f"artifact {uri} does not have sha256 {ref['sha256']}", type="TrainerArtifactMismatch", non_retryable=True)
        return joblib.load(io.BytesIO(data))

    def predict(self, fitted: Any, table: Table, stop: threading.Event) -> list[float]:
        out: list[float] = []
        for start in range(0, len(table), 5_000):
            if stop.is_set():
                raise Stopped()
            part = Table(features=table.features, ids=table.ids[start:start + 5_000],
                         columns={k: v[start:start + 5_000] for k, v in table.columns.items()})
            out.extend(float(p) for p in self.model.predict(fitted, part))
        return out


async def in_thread(work: Callable[[], Any], stop: threading.Event, step: str) -> Any:
    """Runs blocking work in a thread and heartbeats from this loop until it ends; a cancel stops it."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    started = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
            if done:
                return task.result()
            activity.heartbeat({"step": step, "seconds": round(time.monotonic() - started, 1)})
    except asyncio.CancelledError:
        # Tell the thread to give up; it leaves no artifact (keep() checks before renaming).
        stop.set()
        raise
    except Stopped:
        raise asyncio.CancelledError() from None


def check_version(job: dict[str, Any]) -> None:
    if job.get("contractVersion") != CONTRACT_VERSION:
        raise ApplicationError(f"contractVersion {job.get('contractVersion')!r}: this trainer speaks version {CONTRACT_VERSION}",
                               type="TrainerUnsupportedContract", non_retryable=True)


def code_digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def with_query(url: str, **params: Any) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k not in params] + [(k, str(v)) for k, v in params.items()]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def strip_query(url: str) -> str:
    return urllib.parse.urlsplit(url)._replace(query="").geturl()
