"""Checks on the deployment files: deploy/*.yaml, the Dockerfile, the Helm values and the
commands in docs/deployment.md.

Nothing here needs Docker, Kubernetes, Helm or a PostgreSQL server. Dagster's own config code
(1.13.27) judges the instance configs; the Helm values are checked for the chart keys Bamboo
sets and for agreement with pyproject.toml, the Dockerfile, deploy/dagster.yaml and
.env.example. The chart itself is not here: its rendering is not imitated (see
docs/deployment.md). bamboo_assets_tests/deployment/ runs the compose deployment for real.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROD_INSTANCE = REPO / "deploy" / "dagster.yaml"
LOCAL_INSTANCE = REPO / "deploy" / "local" / "dagster.yaml"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY_DOC = REPO / "docs" / "deployment.md"
ENV_EXAMPLE = REPO / ".env.example"
PYPROJECT = REPO / "pyproject.toml"
WORKSPACE = REPO / "workspace.yaml"

# Directories that hold third-party or generated files, not the project's YAML.
SKIPPED_DIRS = {
    ".venv",
    ".bamboo",
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "node_modules",
    "build",
    "dist",
}

PG_ENV = {
    "DAGSTER_PG_USERNAME": "dagster_user",
    "DAGSTER_PG_PASSWORD": "p@ss:word/with?specials",
    "DAGSTER_PG_HOST": "instance-db.test",
    "DAGSTER_PG_DB": "dagster_instance",
    "DAGSTER_PG_PORT": "6543",
}


# --------------------------------------------------------------------------------------------
# helpers


def _repo_yaml_files() -> list[Path]:
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        found.extend(Path(root) / f for f in sorted(files) if f.endswith((".yaml", ".yml")))
    return found


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def _dagster_module() -> str:
    return _pyproject()["tool"]["dagster"]["module_name"]


def _location_name() -> str:
    return _pyproject()["tool"]["dagster"]["code_location_name"]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _pip_install_commands(instructions) -> list[tuple[int, list[str]]]:
    """(instruction index, argv) of every `pip install` found in RUN instructions."""
    commands = []
    for index, (keyword, args) in enumerate(instructions):
        if keyword != "RUN":
            continue
        for segment in re.split(r"&&|;|\|\|", args):
            argv = shlex.split(segment)
            for i in range(len(argv) - 1):
                if argv[i].endswith("pip") and argv[i + 1] == "install":
                    commands.append((index, argv[i + 2 :]))
                    break
                if argv[i : i + 3] == ["-m", "pip", "install"]:
                    commands.append((index, argv[i + 3 :]))
                    break
    return commands


def _copy_sources(args: str) -> list[str]:
    argv = shlex.split(args)
    paths = [a for a in argv if not a.startswith("--")]
    assert len(paths) >= 2, f"COPY needs a source and a destination: {args!r}"
    return [p.rstrip("/").removeprefix("./") for p in paths[:-1]]


def _cmd_argv(instructions) -> list[str]:
    cmds = [args for keyword, args in instructions if keyword == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    argv = json.loads(cmds[-1])  # exec form, so the code server gets signals directly
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def _option(argv: list[str], *names: str) -> str:
    for i, arg in enumerate(argv[:-1]):
        if arg in names:
            return argv[i + 1]
    raise AssertionError(f"none of {names} in {argv}")


def _exposed_ports(instructions) -> set[int]:
    ports = set()
    for keyword, args in instructions:
        if keyword == "EXPOSE":
            ports.update(int(p.split("/")[0]) for p in args.split())
    return ports


def _bamboo_deployment(values) -> dict:
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1, "exactly one user deployment (the bamboo code location)"
    return deployments[0]


def _env_example_names() -> set[str]:
    """Variable names in .env.example, including commented-out optional ones (`# NAME=`)."""
    pattern = re.compile(r"^\s*#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=")
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match:
            names.add(match.group(1))
    return names


def _doc_commands() -> list[list[str]]:
    """Shell commands inside ```bash blocks of docs/deployment.md, continuation lines joined."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                try:
                    commands.append(shlex.split(line))
                except ValueError:
                    continue  # heredoc bodies etc.
    return commands


def _doc_secret_keys(secret_name: str) -> set[str]:
    """Keys given to `kubectl create secret generic <secret_name>` in docs/deployment.md."""
    for argv in _doc_commands():
        if {"kubectl", "create", "secret", "generic", secret_name} <= set(argv):
            after = argv[argv.index(secret_name) + 1 :]
            keys = set()
            for arg in after:
                match = re.match(r"--from-(?:literal|file)=([^=]+)=", arg)
                if match:
                    keys.add(match.group(1))
            if keys:
                return keys
    raise AssertionError(f"docs/deployment.md has no `kubectl create secret generic {secret_name}`")


def _effective_concurrency(instance_yaml: Path):
    """What the daemon and the step executor would use, computed by Dagster's own code."""
    from dagster._core.instance.config import ConcurrencyConfig
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.run_coordinator import QueuedRunCoordinator

    ref = InstanceRef.from_dir(str(instance_yaml.parent))
    coordinator = ref.run_coordinator  # builds the class, so its config is validated too
    assert isinstance(coordinator, QueuedRunCoordinator)
    return ConcurrencyConfig.from_concurrency_settings(
        ref.settings.get("concurrency") or {}, coordinator.get_run_queue_config()
    )


# --------------------------------------------------------------------------------------------
# every YAML file


YAML_FILES = _repo_yaml_files()


def test_yaml_walk_covers_the_deployment_files():
    relative = {p.relative_to(REPO).as_posix() for p in YAML_FILES}
    expected = {
        "workspace.yaml",
        "deploy/dagster.yaml",
        "deploy/local/dagster.yaml",
        "deploy/helm/values.yaml",
    }
    assert expected <= relative


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_yaml_file_parses(path: Path):
    # safe_load_all: Kubernetes manifests may hold several documents in one file.
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert documents, f"{path} is empty"


# --------------------------------------------------------------------------------------------
# deploy/dagster.yaml and deploy/local/dagster.yaml


@pytest.mark.parametrize("path", [PROD_INSTANCE, LOCAL_INSTANCE], ids=["production", "local"])
def test_instance_config_is_accepted_by_dagster(path: Path):
    from dagster._core.instance.config import dagster_instance_config

    # Raises DagsterInvalidConfigError on unknown keys, wrong types, or run limits placed on
    # the run coordinator next to a `concurrency` block.
    config, custom_class = dagster_instance_config(str(path.parent))
    assert custom_class is None
    assert config.get("telemetry") == {"enabled": False}


@pytest.mark.parametrize("path", [PROD_INSTANCE, LOCAL_INSTANCE], ids=["production", "local"])
def test_run_queue_settings(path: Path):
    effective = _effective_concurrency(path)
    queue = effective.run_queue_config
    limits = queue.tag_concurrency_limits

    backfill = [lim for lim in limits if lim["key"] == "dagster/backfill"]
    assert backfill == [{"key": "dagster/backfill", "limit": 1}], (
        "one limit on the tag key alone, so all backfills together hold at most one run slot"
    )
    schedule = [lim for lim in limits if lim["key"] == "bamboo/trigger"]
    assert schedule == [{"key": "bamboo/trigger", "value": "schedule", "limit": 1}]
    # Backfills must not be able to fill the queue: slots must remain for the schedule.
    assert queue.max_concurrent_runs >= backfill[0]["limit"] + 1


def test_local_and_production_instances_agree():
    prod, local = _load(PROD_INSTANCE), _load(LOCAL_INSTANCE)
    for key in ("concurrency", "retention", "run_retries", "telemetry"):
        assert prod.get(key) == local.get(key), f"`{key}` differs between production and local"
    assert prod["run_coordinator"]["class"] == local["run_coordinator"]["class"]

    prod_queue = _effective_concurrency(PROD_INSTANCE).run_queue_config
    local_queue = _effective_concurrency(LOCAL_INSTANCE).run_queue_config
    assert prod_queue.max_concurrent_runs == local_queue.max_concurrent_runs
    assert prod_queue.tag_concurrency_limits == local_queue.tag_concurrency_limits


def test_retention_and_run_retries():
    config = _load(PROD_INSTANCE)
    assert config["retention"]["schedule"]["purge_after_days"] > 0, "-1 would keep ticks forever"
    sensor = config["retention"]["sensor"]["purge_after_days"]
    assert set(sensor) == {"skipped", "started", "success", "failure"}
    assert all(days > 0 for days in sensor.values())
    assert config["run_retries"]["enabled"] is True
    assert config["run_retries"]["max_retries"] >= 1


def test_production_storage_uses_psycopg2_from_env(monkeypatch):
    from dagster._config import process_config
    from dagster._config.field import resolve_to_config_type
    from dagster._core.storage.config import pg_config
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy.engine import make_url

    storage = _load(PROD_INSTANCE)["storage"]
    assert list(storage) == ["postgres"]
    postgres = storage["postgres"]
    assert "postgres_url" not in postgres, "use postgres_db with an explicit scheme"
    db = postgres["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2"
    for field, var in [
        ("username", "DAGSTER_PG_USERNAME"),
        ("password", "DAGSTER_PG_PASSWORD"),
        ("hostname", "DAGSTER_PG_HOST"),
        ("db_name", "DAGSTER_PG_DB"),
        ("port", "DAGSTER_PG_PORT"),
    ]:
        assert db[field] == {"env": var}, f"{field} must come from ${var}, not the file"

    for var, value in PG_ENV.items():
        monkeypatch.setenv(var, value)
    result = process_config(resolve_to_config_type(pg_config()), postgres)
    assert result.success, result.errors
    url = make_url(pg_url_from_config(result.value))
    assert url.drivername == "postgresql+psycopg2"
    assert url.get_dialect().driver == "psycopg2"
    assert (url.username, url.password) == (
        PG_ENV["DAGSTER_PG_USERNAME"],
        PG_ENV["DAGSTER_PG_PASSWORD"],
    )
    assert (url.host, url.port, url.database) == ("instance-db.test", 6543, "dagster_instance")


# --------------------------------------------------------------------------------------------
# Dockerfile


def test_dockerfile_installs_the_project_itself():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    installs = _pip_install_commands(instructions)
    assert len(installs) == 1, f"one pip install, the project's: {installs}"
    _, argv = installs[0]
    targets = [a.strip("\"'") for a in argv if not a.startswith("-")]
    assert targets == [".[k8s]"], "install exactly the project; dependencies come from pyproject"
    extras = _pyproject()["project"]["optional-dependencies"]
    assert any(dep.startswith("dagster-k8s==") for dep in extras["k8s"]), "K8sRunLauncher needs it"
    assert not {"-e", "--editable"} & set(argv), "a real install, not a link to the build dir"
    assert "--no-cache-dir" in argv


def test_dockerfile_copies_everything_the_build_needs_before_installing():
    instructions = _dockerfile_instructions()
    install_index = _pip_install_commands(instructions)[0][0]
    copied = set()
    for keyword, args in instructions[:install_index]:
        if keyword == "COPY":
            copied.update(_copy_sources(args))

    pyproject = _pyproject()
    needed = {"pyproject.toml", "setup.py", pyproject["project"]["readme"]}
    # The packages setuptools is told to find, e.g. "bamboo_assets*" -> bamboo_assets/.
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        needed.add(pattern.rstrip("*").rstrip("."))
    assert needed == {"pyproject.toml", "setup.py", "README.md", "bamboo_assets"}
    missing = needed - copied
    assert not missing, f"COPY these before `pip install .`: {sorted(missing)}"


def test_dockerfile_runs_the_code_location_as_non_root():
    instructions = _dockerfile_instructions()
    keywords = [k for k, _ in instructions]
    users = [(i, args) for i, (k, args) in enumerate(instructions) if k == "USER"]
    assert users, "the image must not run as root"
    index, user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert index < keywords.index("CMD")

    argv = _cmd_argv(instructions)
    # `api grpc` exits when the definitions fail to load; `code-server start` would stay up.
    assert argv[:3] == ["dagster", "api", "grpc"]
    assert _option(argv, "-m", "--module-name") == _dagster_module()
    assert _option(argv, "-h", "--host") == "0.0.0.0"
    port = int(_option(argv, "-p", "--port"))
    assert _exposed_ports(instructions) == {port}


def test_the_image_and_the_helm_values_run_in_production_mode():
    image_env = " ".join(args for keyword, args in _dockerfile_instructions() if keyword == "ENV")
    assert re.search(r"\bBAMBOO_ENV=production\b", image_env)
    env = {item["name"]: item for item in _bamboo_deployment(_load(HELM_VALUES))["env"]}
    assert env["BAMBOO_ENV"] == {"name": "BAMBOO_ENV", "value": "production"}


def test_the_image_gives_every_dagster_process_the_event_settings():
    """Every role (code server, run worker, and in compose the webserver and the daemon) runs
    this image, so its ENV reaches every Dagster process of the deployment."""
    image_env = " ".join(args for keyword, args in _dockerfile_instructions() if keyword == "ENV")
    assert re.search(r"\bDAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true\b", image_env)
    assert re.search(r"\bDAGSTER_EVENT_BATCH_SIZE=500\b", image_env)


def test_dockerignore_keeps_local_state_and_secrets_out():
    entries = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".bamboo", ".env", ".git"):
        assert required in entries, f".dockerignore must exclude {required}"
    # Every credential pattern that .gitignore keeps out of git stays out of the image too.
    gitignore = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    credential_patterns = {
        p.strip()
        for p in gitignore
        if not p.startswith("#") and (p.strip().endswith((".json", ".key")) or "credential" in p)
    }
    assert credential_patterns, ".gitignore lost its credential patterns"
    assert credential_patterns <= entries


# --------------------------------------------------------------------------------------------
# deploy/helm/values.yaml


def test_helm_user_deployment_matches_project_and_image():
    values = _load(HELM_VALUES)
    user_deployments = values["dagster-user-deployments"]
    assert user_deployments["enabled"] is True
    deployment = _bamboo_deployment(values)

    workspace_locations = [
        entry["python_module"]["location_name"] for entry in _load(WORKSPACE)["load_from"]
    ]
    assert deployment["name"] == _location_name() == workspace_locations[0]

    assert deployment["dagsterApiGrpcArgs"] == ["-m", _dagster_module()]
    assert "codeServerArgs" not in deployment, "the chart takes one of the two, not both"
    cmd = _cmd_argv(_dockerfile_instructions())
    assert _option(cmd, "-m", "--module-name") == _dagster_module()
    assert deployment["port"] == int(_option(cmd, "-p", "--port"))
    assert deployment["port"] in _exposed_ports(_dockerfile_instructions())

    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert set(deployment["image"]) >= {"repository", "tag", "pullPolicy"}
    assert deployment["image"]["tag"] != "latest"


def test_helm_secrets_volume_and_paths_are_consistent():
    deployment = _bamboo_deployment(_load(HELM_VALUES))
    env = {item["name"]: item for item in deployment["env"]}
    volumes = {v["name"]: v for v in deployment["volumes"]}
    mounts = {m["mountPath"]: m for m in deployment["volumeMounts"]}
    assert {m["name"] for m in mounts.values()} <= set(volumes)

    # Application secrets come from one secret, and no plain env entry shadows its keys.
    assert [s["name"] for s in deployment["envSecrets"]] == ["bamboo-secrets"]
    secret_keys = _doc_secret_keys("bamboo-secrets")
    assert {"BAMBOO_DB_DSN", "ITRESUME_CLIENT_KEY", "SMTP_PASSWORD"} <= secret_keys
    assert not secret_keys & set(env), "env would override the secret's value"
    values_text = HELM_VALUES.read_text(encoding="utf-8")
    for key in secret_keys:
        assert key in values_text, f"the values file's comment does not list secret key {key}"
    assert all("value" in item for item in env.values()), "plain values only in env"

    # GOOGLE_SERVICE_ACCOUNT_FILE points at a key of the mounted secret volume.
    sa_path = PurePosixPath(env["GOOGLE_SERVICE_ACCOUNT_FILE"]["value"])
    sa_mount = mounts[str(sa_path.parent)]
    assert sa_mount.get("readOnly") is True
    sa_secret = volumes[sa_mount["name"]]["secret"]["secretName"]
    assert sa_path.name in _doc_secret_keys(sa_secret)

    # BAMBOO_HOME is the persistent volume.
    home_mount = mounts[env["BAMBOO_HOME"]["value"]]
    claim = volumes[home_mount["name"]]["persistentVolumeClaim"]["claimName"]
    assert re.search(
        rf"kind: PersistentVolumeClaim\s+metadata:\s+name: {claim}\b",
        DEPLOY_DOC.read_text(encoding="utf-8"),
    ), "docs must create the PVC"

    # The volume must be writable for the image's uid in the code server and in run pods.
    dockerfile_user = [a for k, a in _dockerfile_instructions() if k == "USER"][-1]
    uid = int(dockerfile_user.split(":")[0])
    assert deployment["podSecurityContext"]["fsGroup"] == uid
    run_pod = _load(HELM_VALUES)["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert run_pod["podSpecConfig"]["security_context"]["fs_group"] == uid


def test_helm_instance_database_and_launcher():
    values = _load(HELM_VALUES)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    pg = values["postgresql"]
    assert pg["enabled"] is False, "external PostgreSQL, no database inside the release"
    assert pg["postgresqlHost"]
    assert pg["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["generatePostgresqlPasswordSecret"] is False
    secret_name = values["global"]["postgresqlSecretName"]
    assert _doc_secret_keys(secret_name) == {"postgresql-password"}
    assert values["telemetry"]["enabled"] is False


def test_helm_limits_retention_and_retries_match_production():
    values = _load(HELM_VALUES)
    prod = _load(PROD_INSTANCE)
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True
    assert coordinator["type"] == "QueuedRunCoordinator"
    queue = coordinator["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == prod["concurrency"]["runs"]["max_concurrent_runs"]
    assert queue["tagConcurrencyLimits"] == prod["concurrency"]["runs"]["tag_concurrency_limits"]

    retention = values["retention"]
    assert retention["enabled"] is True
    for kind in ("schedule", "sensor"):
        assert retention[kind]["purgeAfterDays"] == prod["retention"][kind]["purge_after_days"]

    retries = values["dagsterDaemon"]["runRetries"]
    assert retries == {
        "enabled": prod["run_retries"]["enabled"],
        "maxRetries": prod["run_retries"]["max_retries"],
        "retryOnAssetOrOpFailure": prod["run_retries"]["retry_on_asset_or_op_failure"],
    }


def test_helm_values_and_docs_name_the_chart_of_the_pinned_dagster():
    """The values were checked against one chart version, the one of the pinned Dagster: a
    Dagster upgrade fails here until someone re-reads the chart and moves the version."""
    pins = dict(dep.split("==") for dep in _pyproject()["project"]["dependencies"] if "==" in dep)
    dagster = pins["dagster"]
    header = re.search(r"chart `dagster/dagster` version (\S+)", HELM_VALUES.read_text())
    assert header and header.group(1) == dagster
    versions = {
        argv[argv.index("--version") + 1] for argv in _doc_commands() if "--version" in argv
    }
    assert versions == {dagster}, "docs/deployment.md installs another chart version"


# --------------------------------------------------------------------------------------------
# .env.example (written elsewhere; these fail until it exists)


def test_helm_env_names_are_documented_in_env_example():
    names = _env_example_names()
    deployment = _bamboo_deployment(_load(HELM_VALUES))
    plain = {item["name"] for item in deployment["env"]}
    assert plain <= names, f"not in .env.example: {sorted(plain - names)}"


def test_helm_secret_keys_are_documented_in_env_example():
    names = _env_example_names()
    secret_keys = _doc_secret_keys("bamboo-secrets")
    assert secret_keys <= names, f"not in .env.example: {sorted(secret_keys - names)}"
