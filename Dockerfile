# syntax=docker/dockerfile:1
# One image for every process of the control plane: `api`, `worker`, `trainer` (the reference Python
# trainer) or `up` (all in one), chosen by the first argument (docker/entrypoint.sh). Build: docker build -t retrain .

ARG NODE_IMAGE=node:20-bookworm-slim

# ── the runtime's node_modules (no dev dependencies: tsx runs the TypeScript, esbuild bundles the console)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ── the reference Python trainer's virtual environment, from its pinned requirements (Debian's Python 3.11,
#    the same interpreter the runtime stage installs, so the venv's links hold there)
FROM ${NODE_IMAGE} AS trainer-venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY trainers/python/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/trainer-venv \
 && /opt/trainer-venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-input -r /tmp/requirements.txt \
 && sha256sum /tmp/requirements.txt | cut -d' ' -f1 >/opt/trainer-venv/.retrain-requirements.sha256
# (the marker temporal-config/pythonTrainer.ts checks: `up` then uses this venv as installed, offline)

# ── runtime
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    RETRAIN_DATA_DIR=/data \
    RETRAIN_API_HOST=0.0.0.0 \
    RETRAIN_API_PORT=4300
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=trainer-venv /opt/trainer-venv /opt/trainer-venv
COPY . .
# The non-root user every process runs as (node:20 images ship `node`, uid 1000); /data is its state:
# PGlite when no DATABASE_URL is given, and trainer artifacts (a fresh volume mounted there takes this ownership).
RUN chmod 0755 docker/entrypoint.sh docker/healthcheck.sh \
 && mkdir -p /data/trainer-artifacts \
 && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4300
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 CMD ["/app/docker/healthcheck.sh"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["api"]
