#!/bin/sh
# The image's one entry point: the first argument says which process this container is.
#   api      the tRPC/REST API and the console (port RETRAIN_API_PORT, default 4300, on every address)
#   worker   the Temporal workers (control and training task queues)
#   trainer  the reference Python trainer (trainers/python) on RETRAIN_TRAINER_QUEUE (default sklearn)
#   up       everything in one process (embedded Temporal and PGlite unless TEMPORAL_ADDRESS / DATABASE_URL)
#   anything else is handed to the CLI: `docker run retrain tokens create --subject x --role trainer`
set -eu

role="${1:-api}"
[ "$#" -gt 0 ] && shift
# The healthcheck (docker/healthcheck.sh) reads which process this container runs.
echo "$role" >/tmp/retrain-role

cd /app
# glibc raises its mmap threshold each time a big block is freed, then serves blocks that size from arenas
# it keeps: at 1M examples a process sat ~0.3 GiB higher. A fixed threshold maps each big block apart and
# unmaps it when freed (README: Environment). glibc reads it once, at start, so it is set here.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
case "$role" in
  api)
    export RETRAIN_API_HOST="${RETRAIN_API_HOST:-0.0.0.0}"
    exec node --import tsx bin/retrain.ts api --port "${RETRAIN_API_PORT:-4300}" "$@"
    ;;
  worker)
    exec node --import tsx bin/retrain.ts worker "$@"
    ;;
  up)
    export RETRAIN_API_HOST="${RETRAIN_API_HOST:-0.0.0.0}"
    # `up` starts the Python trainer from <data dir>/venv-trainer: the image's venv, built with its marker.
    data="${RETRAIN_DATA_DIR:-/data}"
    mkdir -p "$data"
    [ -e "$data/venv-trainer" ] || ln -s /opt/trainer-venv "$data/venv-trainer"
    exec node --import tsx bin/retrain.ts up --port "${RETRAIN_API_PORT:-4300}" "$@"
    ;;
  trainer)
    # What temporal-config/pythonTrainer.ts passes in embedded mode, from the container's environment.
    export PYTHONUNBUFFERED=1
    export RETRAIN_TRAINER_QUEUE="${RETRAIN_TRAINER_QUEUE:-sklearn}"
    export RETRAIN_TRAINER_ARTIFACTS="${RETRAIN_TRAINER_ARTIFACTS:-/data/trainer-artifacts/$RETRAIN_TRAINER_QUEUE}"
    cd /app/trainers/python
    exec /opt/trainer-venv/bin/python -m retrain_trainer.worker "$@"
    ;;
  *)
    exec node --import tsx bin/retrain.ts "$role" "$@"
    ;;
esac
