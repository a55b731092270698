"""Entry point: `python -m retrain_trainer.worker` serves the trainer on its task queue until SIGTERM.

Environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_API_KEY (with
TLS, for Temporal Cloud), RETRAIN_TRAINER_QUEUE (sklearn), RETRAIN_TRAINER_TOKEN (the data plane's
bearer token, trainer role), RETRAIN_TRAINER_ARTIFACTS (./.data/trainer-artifacts/sklearn),
RETRAIN_TRAINER_CONCURRENCY (jobs at once; default one per core).
"""

from __future__ import annotations

import os

CONCURRENCY = int(os.environ.get("RETRAIN_TRAINER_CONCURRENCY") or os.cpu_count() or 1)
# Each job gets its share of the cores, set before numpy and scikit-learn load (OpenMP and BLAS read
# these once): jobs at once times threads per job = cores. Oversubscribed OpenMP threads spin-wait,
# and gradient boosting then ran several times slower on a busy machine.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(max(1, (os.cpu_count() or 1) // CONCURRENCY)))

import asyncio  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from .contract import Contract  # noqa: E402
from .model import MODEL  # noqa: E402


async def main() -> None:
    env = os.environ
    address = env.get("TEMPORAL_ADDRESS", "127.0.0.1:7233")
    namespace = env.get("TEMPORAL_NAMESPACE", "default")
    queue = env.get("RETRAIN_TRAINER_QUEUE", "sklearn")
    token = env.get("RETRAIN_TRAINER_TOKEN", "")
    if not token:
        print("RETRAIN_TRAINER_TOKEN is not set: the data plane will refuse every request", file=sys.stderr, flush=True)
    api_key = env.get("TEMPORAL_API_KEY") or None
    contract = Contract(MODEL, token, Path(env.get("RETRAIN_TRAINER_ARTIFACTS", "./.data/trainer-artifacts/sklearn")))
    client = await Client.connect(address, namespace=namespace, api_key=api_key, tls=bool(api_key))
    worker = Worker(
        client,
        task_queue=queue,
        activities=contract.activities(),
        max_concurrent_activities=CONCURRENCY,
        # Heartbeats reach the server every few seconds, so a cancel reaches a job within seconds.
        max_heartbeat_throttle_interval=timedelta(seconds=3),
        default_heartbeat_throttle_interval=timedelta(seconds=3),
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    print(f"{MODEL.name} {MODEL.version} ({contract.code_digest}) polling task queue {queue} on {address}/{namespace}", flush=True)
    await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        await worker.shutdown()
    await running


if __name__ == "__main__":
    asyncio.run(main())
