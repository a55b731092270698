#!/bin/sh
# HEALTHCHECK: the API's /readyz (database and Temporal reachable, migrations applied); a worker's /readyz
# on RETRAIN_WORKER_HEALTH_PORT when set, else that its process is alive; the Python trainer: alive.
# (Alive = a process whose command line holds the pattern: under `init: true` PID 1 is the init, not ours.)
set -eu
role="$(cat /tmp/retrain-role 2>/dev/null || echo unknown)"
alive() { grep -qas -- "$1" /proc/[0-9]*/cmdline; }
probe() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}
case "$role" in
  api | up) probe "http://127.0.0.1:${RETRAIN_API_PORT:-4300}/readyz" ;;
  worker)
    if [ -n "${RETRAIN_WORKER_HEALTH_PORT:-}" ]; then probe "http://127.0.0.1:$RETRAIN_WORKER_HEALTH_PORT/readyz"; else alive bin/retrain.ts; fi
    ;;
  trainer) alive retrain_trainer.worker ;;
  *) alive bin/retrain.ts ;;
esac
