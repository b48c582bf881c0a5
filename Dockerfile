# Code-location image for Bamboo: the gRPC code server that the Dagster Helm chart runs as a
# user deployment, and the image of every run pod the K8sRunLauncher starts.
# Build and push: see docs/deployment.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    BAMBOO_HOME=/var/lib/bamboo

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

# DAGSTER_HOME must exist and belong to the runtime user: the chart mounts the instance
# dagster.yaml as a single file into it, and Dagster writes local artifacts and compute logs
# under it. BAMBOO_HOME is where raw API answers go; on Kubernetes a volume is mounted there.
RUN mkdir -p "$DAGSTER_HOME" "$BAMBOO_HOME" \
 && chown bamboo:bamboo "$DAGSTER_HOME" "$BAMBOO_HOME"

USER 10001:10001

EXPOSE 3030

# Used when the image runs on its own (e.g. `docker run -p 3030:3030 ...`). The Helm chart
# replaces it with `dagster api grpc -h 0.0.0.0 -p 3030 -m bamboo_assets.definitions`, built
# from `dagsterApiGrpcArgs` and `port` in deploy/helm/values.yaml.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "bamboo_assets.definitions"]
