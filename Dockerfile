# Bamboo's image: the gRPC code server (the Helm chart's user deployment, compose's
# code-location service), the image of every run pod the K8sRunLauncher starts, and in compose
# also the webserver and the daemon (dagster-webserver is a dependency of the project).
# Build and push: see docs/deployment.md. Nothing secret is baked in: every password comes from
# the environment at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    BAMBOO_HOME=/var/lib/bamboo \
    BAMBOO_ENV=production

# Bamboo reports days itself: one planned event per asset (not per day), materializations in batches.
ENV DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true \
    DAGSTER_EVENT_BATCH_SIZE=500

# Fixed numeric uid/gid so Kubernetes can check `runAsNonRoot` and so `fsGroup: 10001`
# in deploy/helm/values.yaml gives this user write access to the BAMBOO_HOME volume.
RUN groupadd --system --gid 10001 bamboo \
 && useradd --system --uid 10001 --gid bamboo --no-create-home \
        --home-dir /opt/dagster --shell /usr/sbin/nologin bamboo

WORKDIR /opt/dagster/app

# Exactly what `pip install ".[k8s]"` needs: the build metadata (pyproject.toml, the setup.py shim,
# and README.md, which pyproject.toml names as the readme) and the package with its SQL files.
COPY pyproject.toml setup.py README.md ./
COPY bamboo_assets ./bamboo_assets

# The project's own install, nothing listed by hand: the dependency pins live in pyproject.toml.
RUN pip install --no-cache-dir ".[k8s]"

# DAGSTER_HOME must exist and belong to the runtime user: the chart and compose mount the
# instance dagster.yaml as a single file into it, and Dagster writes compute logs under
# storage/ (a volume shared by compose's services). BAMBOO_HOME is where raw API answers go; a
# volume is mounted there. A fresh named volume takes these owners from the image.
RUN mkdir -p "$DAGSTER_HOME/storage" "$BAMBOO_HOME" \
 && chown bamboo:bamboo "$DAGSTER_HOME" "$DAGSTER_HOME/storage" "$BAMBOO_HOME"

USER 10001:10001

EXPOSE 3030

# The code server, as the Helm chart also runs it (from `dagsterApiGrpcArgs` and `port` in
# deploy/helm/values.yaml). `dagster api grpc` loads the definitions at start and exits when
# they fail to load (say, production with a variable missing), so the container stops with the
# reason in its log; `dagster code-server start` would keep running and only show the error
# in the UI.
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "bamboo_assets.definitions"]

# The revision the image was built from (`--build-arg BAMBOO_REVISION=$(git rev-parse --short
# HEAD)`), last so that a new value rebuilds nothing but this label.
ARG BAMBOO_REVISION=unknown
LABEL org.opencontainers.image.revision="${BAMBOO_REVISION}"
