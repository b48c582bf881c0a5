"""deploy/compose/compose.yaml read as a file: the contract the issue sets, without Docker.
bamboo_assets_tests/deployment/ runs it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
DAGSTER_SERVICES = ("code-location", "webserver", "daemon")
HELM = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text(encoding="utf-8"))
# What the Helm values take from the bamboo-secrets secret (test_deploy_files checks the docs).
HELM_SECRET_KEYS = {"BAMBOO_DB_DSN", "ITRESUME_CLIENT_KEY", "SMTP_PASSWORD"}


def env_file_names(path: Path) -> set[str]:
    """Variable names in an env-file example, commented-out ones (`# NAME=`) included."""
    pattern = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=")
    return {m.group(1) for line in path.read_text().splitlines() if (m := pattern.match(line))}


def test_only_the_ui_is_published_on_127_0_0_1_unless_told_otherwise() -> None:
    published = {name: s["ports"] for name, s in SERVICES.items() if s.get("ports")}
    assert published == {"ui": ["${BAMBOO_UI_ADDRESS:-127.0.0.1}:${BAMBOO_UI_PORT:-3000}:8080"]}
    # The script that refuses a shared address without a login reads the same variable.
    ui_env = SERVICES["ui"]["environment"]
    assert ui_env["BAMBOO_UI_ADDRESS"] == "${BAMBOO_UI_ADDRESS:-127.0.0.1}"


def test_the_ui_is_the_stock_nginx_image_with_the_files_mounted() -> None:
    ui = SERVICES["ui"]
    assert re.fullmatch(r"nginx:\d+\.\d+", ui["image"]), "the official image, one tag, here only"
    assert "build" not in ui
    volumes = ui["volumes"]
    assert "./ui/40-bamboo-ui.sh:/docker-entrypoint.d/40-bamboo-ui.sh:ro" in volumes
    assert "./ui/server.conf:/etc/nginx/conf.d/default.conf:ro" in volumes
    assert (COMPOSE_DIR / "ui" / "40-bamboo-ui.sh").stat().st_mode & 0o111, "must be executable"
    # Secret files only read-only, /dev/null when not given; the generated htpasswd in a tmpfs.
    for variable, target in [
        ("BAMBOO_UI_HTPASSWD_FILE", "htpasswd"),
        ("BAMBOO_UI_TLS_CERT", "tls.crt"),
        ("BAMBOO_UI_TLS_KEY", "tls.key"),
    ]:
        mount = f"${{{variable}:-/dev/null}}:/run/secrets/bamboo-ui/{target}:ro"
        assert mount in volumes, variable
    assert [t.split(":")[0] for t in ui["tmpfs"]] == ["/run/bamboo-ui"]
    # Only its own settings: no database password, nothing of Bamboo's.
    assert {n for n in ui["environment"] if not n.startswith("BAMBOO_UI_")} == set()


def test_the_ui_settings_are_in_the_env_example() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{(BAMBOO_UI_\w+)", text))
    assert used >= {"BAMBOO_UI_ADDRESS", "BAMBOO_UI_PORT", "BAMBOO_UI_USER", "BAMBOO_UI_PASSWORD"}
    assert used <= env_file_names(COMPOSE_DIR / ".env.example")


def test_the_services_the_issue_names() -> None:
    assert set(SERVICES) == {"postgres", *DAGSTER_SERVICES, "ui"}
    assert SERVICES["postgres"]["image"].startswith("postgres:")  # the official image
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]
    assert SERVICES["code-location"]["build"] == {"context": "../.."}  # the project's Dockerfile
    images = {SERVICES[name]["image"] for name in DAGSTER_SERVICES}
    assert images == {"${BAMBOO_IMAGE:-bamboo:local}"}


def test_every_dagster_service_uses_deploy_dagster_yaml() -> None:
    for name in DAGSTER_SERVICES:
        volumes = SERVICES[name]["volumes"]
        assert "../dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro" in volumes, name
        env = SERVICES[name]["environment"]
        assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home", name
        assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD"} <= set(env), name


def test_the_code_location_gets_production_mode_the_warehouse_and_a_named_home() -> None:
    env = SERVICES["code-location"]["environment"]
    assert env["BAMBOO_ENV"] == "${BAMBOO_ENV:-production}"
    assert env["BAMBOO_DB_DSN"].startswith("host=postgres port=5432 ")
    assert env["BAMBOO_HOME"] == "/var/lib/bamboo"
    assert "bamboo-home:/var/lib/bamboo" in SERVICES["code-location"]["volumes"]
    assert "bamboo-home" in COMPOSE["volumes"]
    # Bamboo's settings and secrets go to the code location only, where the runs execute.
    for name in ("webserver", "daemon"):
        assert not {k for k in SERVICES[name]["environment"] if not k.startswith("DAGSTER_")}


def test_passwords_come_only_from_the_env_file() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    for name, value in re.findall(r"^\s+(\w*PASSWORD\w*): (.*)$", text, flags=re.M):
        assert re.fullmatch(r"\$\{\w+(:\?[^}]*|:-)\}", value), f"{name}: {value}"
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"DAGSTER_PG_PASSWORD", "BAMBOO_WAREHOUSE_PASSWORD"}
    assert required <= env_file_names(COMPOSE_DIR / ".env.example")


def test_helm_and_compose_give_the_code_location_the_same_variable_names() -> None:
    (deployment,) = HELM["dagster-user-deployments"]["deployments"]
    helm = {item["name"] for item in deployment["env"]} | HELM_SECRET_KEYS
    compose = set(SERVICES["code-location"]["environment"])
    assert helm <= compose, f"only in the Helm values: {sorted(helm - compose)}"
    documented = env_file_names(REPO / ".env.example")
    bamboo = {n for n in compose if not n.startswith("DAGSTER_PG_") and n != "DAGSTER_HOME"}
    assert bamboo <= documented, f"not in .env.example: {sorted(bamboo - documented)}"
