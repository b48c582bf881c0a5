"""What the `ui` container makes of its settings, before nginx starts.

A published address that is not a loopback one without a login stops the container, saying
why: that is the mistake of sharing the UI with no login. With a login (user and password, or
an htpasswd file) the same address is accepted. A half-given setting (a user without a
password, a certificate without its key, a file that does not exist on the host) stops it too,
naming the variable. Each case is `docker compose run ui` with its own env file, in a project
of its own: only the nginx container is started.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bamboo_assets_tests.deployment.docker_stack import (
    ComposeProject,
    Deployment,
    apr1,
    write_env_file,
)

pytestmark = pytest.mark.docker

REFUSED = "bamboo-ui: not starting"


@dataclass
class UiSettings:
    deployment: Deployment
    project: ComposeProject
    files: Path

    def start(self, env: dict[str, str], *command: str):
        """`run --rm ui [command]` with the deployment's env file plus `env`."""
        case = self.deployment.base_env() | env
        env_file = write_env_file(self.files / f"case-{secrets.token_hex(4)}.env", case)
        project = ComposeProject(self.project.name, env_file)
        return project("run", "--rm", "--no-deps", "-T", "ui", *command, timeout=120, check=False)

    def check_config(self, env: dict[str, str]):
        """The entrypoint's scripts, then `nginx -t` on the config they chose."""
        return self.start(env, "nginx", "-t")


@pytest.fixture(scope="module")
def ui_settings(
    deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiSettings]:
    files = tmp_path_factory.mktemp("ui-settings")
    with deployment.project("ui_settings", deployment.base_env()) as project:
        yield UiSettings(deployment, project, files)


def output(done) -> str:
    return done.stdout + done.stderr


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.10"])
def test_a_shared_address_without_a_login_stops_the_ui(ui_settings: UiSettings, address) -> None:
    done = ui_settings.start({"BAMBOO_UI_ADDRESS": address})  # nginx's own command
    assert done.returncode != 0, output(done)
    assert f"BAMBOO_UI_ADDRESS={address} is not a loopback address and no login is set" in (
        output(done)
    )
    assert REFUSED in output(done)


def test_a_shared_address_with_a_user_and_password_is_accepted(ui_settings: UiSettings) -> None:
    login = {"BAMBOO_UI_USER": "operator", "BAMBOO_UI_PASSWORD": "pw-" + secrets.token_hex(8)}
    done = ui_settings.check_config({"BAMBOO_UI_ADDRESS": "0.0.0.0", **login})
    assert done.returncode == 0, output(done)
    assert "bamboo-ui: http, published on 0.0.0.0, login: user operator" in output(done)
    assert "test is successful" in output(done)


def test_a_shared_address_with_an_htpasswd_file_is_accepted(ui_settings: UiSettings) -> None:
    hashed = apr1("a password")
    htpasswd = ui_settings.files / "htpasswd"
    htpasswd.write_text(f"# the team\nalice:{hashed}\nbob:{hashed}\n")
    htpasswd.chmod(0o600)  # root's only on the host: the container copies it for nginx
    done = ui_settings.check_config(
        {"BAMBOO_UI_ADDRESS": "0.0.0.0", "BAMBOO_UI_HTPASSWD_FILE": str(htpasswd)}
    )
    assert done.returncode == 0, output(done)
    assert "login: 2 user(s) of BAMBOO_UI_HTPASSWD_FILE" in output(done)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"BAMBOO_UI_USER": "operator"}, "BAMBOO_UI_USER is set but BAMBOO_UI_PASSWORD is empty"),
        ({"BAMBOO_UI_PASSWORD": "pw"}, "BAMBOO_UI_PASSWORD is set but BAMBOO_UI_USER is empty"),
        ({"BAMBOO_UI_TLS_CERT": "<cert>"},
         "BAMBOO_UI_TLS_CERT is set but BAMBOO_UI_TLS_KEY is empty"),
        ({"BAMBOO_UI_TLS_CERT": "<missing>", "BAMBOO_UI_TLS_KEY": "<cert>"},
         "BAMBOO_UI_TLS_CERT=<missing> names no non-empty file on the host"),
    ],
)  # fmt: skip
def test_a_half_given_setting_stops_the_ui_naming_it(
    ui_settings: UiSettings, env: dict[str, str], reason: str
) -> None:
    cert = ui_settings.files / "some.pem"
    cert.write_text("not checked before the key is\n")
    missing = ui_settings.files / f"missing-{secrets.token_hex(4)}.pem"
    paths = {"<cert>": str(cert), "<missing>": str(missing)}  # files of this test's own
    env = {name: paths.get(value, value) for name, value in env.items()}
    done = ui_settings.check_config(env)
    assert done.returncode != 0, output(done)
    for placeholder, path in paths.items():
        reason = reason.replace(placeholder, path)
    assert reason in output(done)
    assert REFUSED in output(done)
