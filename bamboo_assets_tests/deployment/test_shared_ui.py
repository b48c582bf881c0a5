"""The UI shared behind a login, with TLS: the stack brought up with BAMBOO_UI_USER,
BAMBOO_UI_PASSWORD, and a self-signed certificate and key in BAMBOO_UI_TLS_CERT/_KEY.

Every path (the page, /graphql over HTTP and its websocket, /server_info) answers 401 without
credentials or with wrong ones. With the right ones the UI answers, and a day of
`daily_attempts` launched through /graphql behind the proxy succeeds. Plain HTTP on the port is
sent to https. Only `ui` has a published port; the webserver has none. The password is in the
container's environment and nowhere else: not in the image, and the htpasswd nginx reads holds
only its hash, in a tmpfs.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bamboo_assets_tests.deployment.docker_stack import Stack, StackOptions, inspect, run
from bamboo_assets_tests.deployment.ui_client import graphql_websocket

pytestmark = pytest.mark.docker

DAY = "2025-03-04"
DAY_ROWS = "SELECT count(*) FROM public.solutions WHERE created_at::date = '2025-03-04'"
PATHS = ["/", "/graphql", "/server_info", "/runs", "/locations/bamboo/jobs/daily_attempts"]


def self_signed_certificate() -> tuple[bytes, bytes]:
    """(certificate, key) in PEM for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bamboo-ui test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def stack_options(tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    tls = tmp_path_factory.mktemp("ui-tls")
    certificate, key = self_signed_certificate()
    (tls / "ui.crt").write_bytes(certificate)
    (tls / "ui.key").write_bytes(key)
    (tls / "ui.key").chmod(0o600)  # root's only: nginx's master process reads it as root
    return StackOptions(
        env={
            "BAMBOO_UI_USER": "operator",
            "BAMBOO_UI_PASSWORD": f"ui-pw-{secrets.token_hex(8)}",
            "BAMBOO_UI_TLS_CERT": str(tls / "ui.crt"),
            "BAMBOO_UI_TLS_KEY": str(tls / "ui.key"),
        }
    )


def test_without_credentials_every_path_answers_401(stack: Stack) -> None:
    assert stack.ui.url.startswith("https://")
    for path in PATHS:
        response = stack.ui.get(path, allow_redirects=False)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Bamboo"', path
    query = {"query": "{ version }"}
    assert stack.ui.post("/graphql", json=query).status_code == 401


def test_wrong_credentials_answer_401(stack: Stack) -> None:
    assert stack.ui.auth is not None
    user, password = stack.ui.auth
    for wrong in [(user, password + "x"), ("someone", password), (user, "")]:
        for path in ("/", "/graphql"):
            assert stack.ui.get(path, auth=wrong).status_code == 401, (wrong[0], path)
        query = {"query": "{ version }"}
        assert stack.ui.post("/graphql", auth=wrong, json=query).status_code == 401


def test_with_the_login_a_day_runs_through_the_proxy(stack: Stack) -> None:
    page = stack.ui.get("/", auth=stack.ui.auth)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    assert stack.ui.get("/server_info", auth=stack.ui.auth).status_code == 200

    started = time.monotonic()
    run_id = stack.ui.launch_day(DAY)  # POST /graphql through nginx, with the login
    finished = stack.ui.wait_for_run(run_id)
    stack.time("one run", started)
    assert {"key": "dagster/partition", "value": DAY} in finished["tags"]
    assert int(stack.project.sql(DAY_ROWS)) > 100


def test_the_graphql_websocket_passes_the_proxy_only_with_the_login(stack: Stack) -> None:
    status, message = graphql_websocket(stack.ui, auth=None)
    assert (status, message) == (401, None)
    status, message = graphql_websocket(stack.ui, auth=stack.ui.auth)
    assert status == 101  # the upgrade reached the webserver, which accepted it
    assert message == {"type": "connection_ack"}


def test_plain_http_on_the_port_is_sent_to_https(stack: Stack) -> None:
    port = stack.env["BAMBOO_UI_PORT"]
    response = requests.get(f"http://127.0.0.1:{port}/runs", allow_redirects=False, timeout=30)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://127.0.0.1:{port}/runs"


def test_only_the_ui_has_a_published_port(stack: Stack) -> None:
    def ports(service: str) -> list[str]:
        container = stack.project.container(service)
        return run(["docker", "port", container], timeout=60).stdout.splitlines()

    assert ports("webserver") == []
    assert ports("ui") == [f"8080/tcp -> 127.0.0.1:{stack.env['BAMBOO_UI_PORT']}"]


def test_the_password_is_in_the_containers_environment_only(stack: Stack) -> None:
    password = stack.env["BAMBOO_UI_PASSWORD"]
    ui = inspect(stack.project.container("ui"))
    assert f"BAMBOO_UI_PASSWORD={password}" in ui["Config"]["Env"]
    for text in (
        run(["docker", "image", "inspect", ui["Image"]], timeout=60).stdout,
        run(["docker", "history", "--no-trunc", ui["Image"]], timeout=60).stdout,
    ):
        assert password not in text
    # nginx reads a hash (apr1), written at start into a tmpfs: no file on the host has it.
    assert "/run/bamboo-ui" in ui["HostConfig"]["Tmpfs"]
    htpasswd = stack.project.exec("ui", "cat", "/run/bamboo-ui/htpasswd").stdout
    assert htpasswd.startswith("operator:$apr1$")
    assert password not in htpasswd
    search = ["grep", "-rlF", password, "/etc", "/run", "/tmp"]
    assert stack.project.exec("ui", *search, check=False).stdout == ""
