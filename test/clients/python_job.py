"""A full job through the Python client that openapi-python-client generates from /openapi.json, and only
through it (typed models, no raw HTTP): register a model with a gate policy, import labelled e-mails, start
a run, wait for its gate with the runs.wait long-poll, approve it as a second person, see it promoted, do it
again for a second version, then roll production back to the first. One JSON line per step on stdout:
{"step", "status", "elapsed"} and what the step learnt. Exit 0 when every step did what it should.

Environment: RETRAIN_API_URL (the REST base, .../api), RETRAIN_OPERATOR_TOKEN (starts the runs),
RETRAIN_APPROVER_TOKEN (approves them and rolls back: another person), RETRAIN_MODEL (the name to
register), RETRAIN_EXAMPLES (a JSON file of examples as models.importExamples takes them).
"""

import json
import os
import sys
import time

import httpx
from dateutil.parser import isoparse

from retrain_client import AuthenticatedClient
from retrain_client.api.gates import gates_approve
from retrain_client.api.models import models_import_examples, models_register, models_rollback
from retrain_client.api.reports import reports_get
from retrain_client.api.runs import runs_start, runs_wait
from retrain_client.models import (
    BoundRule,
    BoundRuleMetric,
    Error,
    GatesApproveBody,
    HumanApprovalRule,
    ModelsImportExamplesBody,
    ModelsImportExamplesBodyExamplesItem,
    ModelsImportExamplesBodyExamplesItemInput,
    ModelsImportExamplesBodyExamplesItemSlices,
    ModelsImportExamplesBodyExamplesItemSplit,
    ModelsRegisterBody,
    ModelsRegisterBodyGatePolicy,
    ModelsRollbackBody,
    NoRegressionRule,
    NoRegressionRuleMetric,
    RunsStartBody,
    RunsWaitUntil,
)
from retrain_client.types import UNSET

BASE_URL = os.environ["RETRAIN_API_URL"]
MODEL = os.environ["RETRAIN_MODEL"]
# A wait answers within a minute (runs.wait's longest timeout); the client must outlast it.
TIMEOUT = httpx.Timeout(90.0)
operator = AuthenticatedClient(base_url=BASE_URL, token=os.environ["RETRAIN_OPERATOR_TOKEN"], timeout=TIMEOUT)
approver = AuthenticatedClient(base_url=BASE_URL, token=os.environ["RETRAIN_APPROVER_TOKEN"], timeout=TIMEOUT)


class StepFailed(Exception):
    pass


def report(step, status, started, **extra):
    print(json.dumps({"step": step, "status": status, "elapsed": round(time.monotonic() - started, 3), **extra}), flush=True)


def answer(step, response):
    """The parsed answer of a 2xx response; a refusal (the API's Error schema) ends the job saying why."""
    if isinstance(response.parsed, Error) or response.status_code // 100 != 2:
        message = response.parsed.message if isinstance(response.parsed, Error) else response.content[:300].decode("utf-8", "replace")
        raise StepFailed(f"{step}: HTTP {int(response.status_code)}: {message}")
    if response.parsed is None:
        raise StepFailed(f"{step}: HTTP {int(response.status_code)} with no parsed body")
    return response.parsed


def register():
    t = time.monotonic()
    policy = ModelsRegisterBodyGatePolicy(
        min_slice_support=10,
        rules=[
            BoundRule(kind="bound", id="overall-fpr", metric=BoundRuleMetric.FPR, slices="overall", max_=0.08),
            NoRegressionRule(kind="no_regression", id="accuracy-vs-champion", metric=NoRegressionRuleMetric.ACCURACY, slices="overall", margin=0.05),
            HumanApprovalRule(kind="human_approval", id="sign-off"),
        ],
    )
    body = ModelsRegisterBody(name=MODEL, description="spam filter registered by the generated Python client", gate_policy=policy)
    model = answer("register", models_register.sync_detailed(client=operator, body=body))
    report("register", "ok", t, model=model.name, id=model.id, policyVersion=model.policy_version)


def import_examples():
    t = time.monotonic()
    with open(os.environ["RETRAIN_EXAMPLES"], encoding="utf-8") as f:
        rows = json.load(f)
    items = [
        ModelsImportExamplesBodyExamplesItem(
            external_id=r["externalId"],
            input_=ModelsImportExamplesBodyExamplesItemInput.from_dict(r["input"]),
            label=r["label"],
            split=ModelsImportExamplesBodyExamplesItemSplit(r["split"]),
            slices=ModelsImportExamplesBodyExamplesItemSlices.from_dict(r["slices"]),
            observed_at=isoparse(r["observedAt"]) if r.get("observedAt") else UNSET,
        )
        for r in rows
    ]
    done = answer("import", models_import_examples.sync_detailed(MODEL, client=operator, body=ModelsImportExamplesBody(examples=items)))
    report("import", "ok", t, examples=len(items), answer=done.to_dict())


def wait(step, run_id, until, deadline_seconds=180):
    """runs.wait until the run satisfies `until` (each call answers within 60 s); the run as it then is."""
    t = time.monotonic()
    while True:
        run = answer(step, runs_wait.sync_detailed(run_id, client=operator, until=until, timeout_seconds=60))
        if not run.timed_out:
            report(step, run.status.value, t, runId=run_id, runStep=run.step, candidateVersion=run.candidate_version)
            return run
        if time.monotonic() - t > deadline_seconds:
            raise StepFailed(f"{step}: run {run_id} still {run.status.value} ({run.step}) after {deadline_seconds} s")


def run_to_production(n):
    t = time.monotonic()
    started = answer(f"run{n}.start", runs_start.sync_detailed(client=operator, body=RunsStartBody(model=MODEL)))
    report(f"run{n}.start", "running", t, runId=started.run_id)
    gate = wait(f"run{n}.wait-gate", started.run_id, RunsWaitUntil.GATE)
    if gate.status.value != "awaiting_approval":
        raise StepFailed(f"run{n}: expected the gate, the run is {gate.status.value}: {gate.result.to_dict() if gate.result else ''}")
    # Four eyes: the approver (not the operator who started the run) reads the packet, then signs its hash.
    t = time.monotonic()
    packet = answer(f"run{n}.read-packet", reports_get.sync_detailed(started.run_id, client=approver))
    if not packet.packet_hash:
        raise StepFailed(f"run{n}: no approval packet")
    decision = answer(
        f"run{n}.approve",
        gates_approve.sync_detailed(started.run_id, client=approver, body=GatesApproveBody(reason="read the packet; the generated Python client approves", packet_hash=packet.packet_hash)),
    )
    report(f"run{n}.approve", "approved", t, runId=started.run_id, packetHash=packet.packet_hash, answer=decision.to_dict())
    done = wait(f"run{n}.promote", started.run_id, RunsWaitUntil.SETTLED)
    if done.status.value != "promoted":
        raise StepFailed(f"run{n}: expected promoted, the run is {done.status.value}")
    return started.run_id


def rollback():
    t = time.monotonic()
    back = answer("rollback", models_rollback.sync_detailed(MODEL, client=approver, body=ModelsRollbackBody(reason="the generated Python client rolls back")))
    report("rollback", "rolled_back", t, fromVersion=back.from_version, toVersion=back.to_version)


def main():
    t = time.monotonic()
    try:
        register()
        import_examples()
        first = run_to_production(1)
        second = run_to_production(2)
        rollback()
    except StepFailed as err:
        report("job", "failed", t, error=str(err))
        return 1
    report("job", "ok", t, runs=[first, second])
    return 0


if __name__ == "__main__":
    sys.exit(main())
