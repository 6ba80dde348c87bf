"""What a browser SDK needs (CORS, bootstrap, events) and the project settings behind them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from stytch_jupyter.emulator import DEFAULT_PUBLIC_TOKEN, Emulator
from stytch_jupyter.emulator.project import ProjectSettings
from tests.support.emulator_http import data, error, loopback_client, otp_sign_in, sdk

PAGE = "http://127.0.0.1:8123"
SDK_HEADERS = "authorization,content-type,x-sdk-client,x-sdk-parent-host"


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def preflight(http: httpx.Client, path: str, origin: str = PAGE) -> httpx.Response:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SDK_HEADERS,
        },
    )


def test_preflight_echoes_a_loopback_origin_with_credentials(http) -> None:
    for origin in [PAGE, "http://localhost:3000", "http://[::1]:9", "https://127.0.0.1"]:
        response = preflight(http, "/sdk/v1/otps/email/login_or_create", origin)
        assert response.status_code in (200, 204), response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "origin" in response.headers["vary"].lower()
        methods = response.headers["access-control-allow-methods"]
        assert {"GET", "POST", "PUT", "DELETE"} <= {m.strip() for m in methods.split(",")}
        allowed = response.headers["access-control-allow-headers"].lower()
        assert set(SDK_HEADERS.split(",")) <= {h.strip() for h in allowed.split(",")}


def test_preflight_comes_before_routing_and_faults(http, emulator) -> None:
    emulator.add_fault(path_prefix="/sdk", status=500, times=5)
    for path in ["/sdk/v1/no/such/route", "/sdk/v1/sessions/authenticate"]:
        response = preflight(http, path)
        assert response.status_code in (200, 204)
        assert response.headers["access-control-allow-origin"] == PAGE
    assert emulator.control.faults()[0]["times"] == 5  # no preflight used one up


def test_errors_and_injected_faults_carry_cors_headers(http, emulator) -> None:
    headers = {"Origin": PAGE}
    response = http.post("/sdk/v1/sessions/authenticate", json={}, headers=headers)
    error(response, 401, "invalid_public_token")
    assert response.headers["access-control-allow-origin"] == PAGE
    assert response.headers["access-control-allow-credentials"] == "true"
    emulator.add_fault(path_prefix="/sdk/v1/otps", status=429, retry_after=2)
    auth = (emulator.public_token, emulator.public_token)
    response = http.post(
        "/sdk/v1/otps/email/login_or_create", json={"email": "a@b.io"}, auth=auth, headers=headers
    )
    error(response, 429, "too_many_requests")
    assert response.headers["access-control-allow-origin"] == PAGE


def test_other_origins_and_other_apis_get_no_cors(http) -> None:
    response = preflight(http, "/sdk/v1/sessions/authenticate", "https://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    response = http.post("/sdk/v1/events", json=[], headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    # The backend and control APIs are not for browsers.
    response = http.get("/emulator/v1/outbox", headers={"Origin": PAGE})
    assert "access-control-allow-origin" not in response.headers
    response = preflight(http, "/v1/sessions/authenticate")
    assert "access-control-allow-origin" not in response.headers


def test_allowed_origins_are_configurable() -> None:
    with (
        Emulator(allowed_origins=["https://app.example"]) as emu,
        loopback_client(emu.api_url) as http,
    ):
        response = preflight(http, "/sdk/v1/sessions/authenticate", "https://app.example")
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        response = preflight(http, "/sdk/v1/sessions/authenticate", PAGE)
        assert response.headers["access-control-allow-origin"] == PAGE
        response = preflight(http, "/sdk/v1/sessions/authenticate", "https://app.example:444")
        assert "access-control-allow-origin" not in response.headers


def test_bootstrap_reports_the_project_settings(http, emulator) -> None:
    got = data(http.get(f"/sdk/v1/projects/bootstrap/{emulator.public_token}"))
    assert got["vertical"] == "CONSUMER"
    assert got["project_name"] == "stytch-jupyter emulator"
    assert got["captcha_settings"] == {"enabled": False}
    assert got["password_config"] is None and "password_config" in got
    assert got["cname_domain"] is None and got["dfp_protected_auth_enabled"] is False
    assert [r["role_id"] for r in got["rbac_policy"]["roles"]] == ["stytch_user"]
    for flow in ["email_magic_links", "password_resets", "oauth", "sso"]:
        assert got[f"pkce_required_for_{flow}"] is False
    error(
        http.get("/sdk/v1/projects/bootstrap/public-token-test-other"), 401, "invalid_public_token"
    )


def test_bootstrap_follows_the_emulator_arguments() -> None:
    with (
        Emulator(pkce_required=["oauth"], project_name="Ada's app") as emu,
        loopback_client(emu.api_url) as http,
    ):
        got = data(http.get(f"/sdk/v1/projects/bootstrap/{emu.public_token}"))
        assert got["project_name"] == "Ada's app"
        assert got["pkce_required_for_oauth"] is True
        assert got["pkce_required_for_email_magic_links"] is False
    with (
        Emulator(pkce_required=True) as emu,
        loopback_client(emu.api_url) as http,
    ):
        got = data(http.get(f"/sdk/v1/projects/bootstrap/{emu.public_token}"))
        assert all(got[f"pkce_required_for_{f}"] for f in ["email_magic_links", "oauth", "sso"])


def test_events_take_telemetry_without_auth(http, emulator) -> None:
    response = http.post("/sdk/v1/events", json=[{"telemetry_id": "x", "event": {}}])
    assert response.is_success
    otp_sign_in(http, emulator)  # nothing else changed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pkce_required": ["email"]}, "unknown PKCE flow 'email'"),
        ({"vertical": "SMB"}, "vertical must be one of"),
        ({"redirect_urls": ["not a url"]}, "is not an absolute http(s) URL"),
        ({"redirect_urls": ["http://["]}, "is not an absolute http(s) URL"),
        ({"allowed_origins": ["https://app.example/path"]}, "must look like"),
    ],
)
def test_bad_settings_fail_with_one_line(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Emulator(**kwargs)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:5555/stytch-jupyter/callback", True),
        ("http://127.0.0.1/stytch-jupyter/callback?flow=abc", True),
        ("http://localhost:8888/user/ada/stytch-jupyter/callback", True),
        ("http://[::1]:8888/hub/user-redirect/stytch-jupyter/callback", True),
        ("https://app.example/callback", True),  # configured
        ("https://app.example/callback?next=1", True),  # the query is not matched
        ("https://app.example/callback/", False),  # exact: no trailing slash
        ("https://app.example/callback/deeper", False),
        ("http://app.example/callback", False),  # another scheme
        ("https://app.example:8443/callback", False),
        ("http://127.0.0.1:5555/elsewhere", False),
        ("http://evil.example/stytch-jupyter/callback", False),
        ("javascript:alert(1)", False),
        ("http://[", False),
    ],
)
def test_redirect_url_allowlist_matches_exactly(url, allowed) -> None:
    settings = ProjectSettings.build(redirect_urls=["https://app.example/callback"])
    assert settings.redirect_allowed(url) is allowed


def test_cli_help_has_a_description_and_works_without_the_extra() -> None:
    # Make the server stack unimportable, as when the emulator extra is not installed.
    code = (
        "import sys\n"
        "for name in ('uvicorn', 'starlette', 'jwt'):\n"
        "    sys.modules[name] = None\n"
        "from stytch_jupyter.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "emulator", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Serve a local Stytch API on loopback" in text
    for flag, words in [
        ("--project-id", "backend calls authenticate with"),
        ("--public-token", "clients (notebooks, browser SDKs) use"),
        ("--secret", "only opens this emulator"),
        ("--allow-origin", "browser origin"),
        ("--pkce-required", "require PKCE"),
    ]:
        assert flag in text and words in text, flag
    done = subprocess.run(
        [sys.executable, "-c", code, "emulator", "--port", "0"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "stytch-jupyter[emulator]" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_code_sent_is_one_line_on_the_terminal() -> None:
    lines: list[str] = []
    with (
        Emulator(announce=lines.append) as emu,
        loopback_client(emu.api_url) as http,
    ):
        data(sdk(http, emu, "otps/email/login_or_create", {"email": "ada@example.com"}))
        data(sdk(http, emu, "magic_links/email/login_or_create", {"email": "ada@example.com"}))
        _, code = emu.last_otp("ada@example.com")
        link = emu.last_magic_link("ada@example.com")
    assert lines == [f"code for ada@example.com: {code}", f"magic link for ada@example.com: {link}"]


def test_a_dropped_connection_still_drops_behind_cors(http, emulator, caplog) -> None:
    # CORS wraps ``send`` for requests with an Origin: the fault must still reach the socket
    # (not fall back to a half-sent response, which uvicorn logs as an error).
    emulator.add_fault(path_prefix="/sdk/v1/sessions", drop=True)
    with caplog.at_level(logging.INFO):
        with pytest.raises(httpx.TransportError):
            http.post("/sdk/v1/sessions/authenticate", json={}, headers={"Origin": PAGE})
        assert emulator.control.faults() == []
        response = http.post("/sdk/v1/sessions/authenticate", json={}, headers={"Origin": PAGE})
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not loud, loud
    assert response.headers["access-control-allow-origin"] == PAGE


def test_cli_flags_become_project_settings() -> None:
    command = [
        sys.executable,
        "-m",
        "stytch_jupyter.emulator",
        "--port",
        "0",
        "--pkce-required",
        "oauth",
        "--pkce-required",
        "password_resets",
        "--project-name",
        "Notebook app",
        "--allow-origin",
        "https://app.example",
        "--redirect-url",
        "https://app.example/done",
    ]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_proxy")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        api_url = ""
        for line in process.stdout:
            if line.strip().startswith("api_url"):
                api_url = line.split()[1]
            if line.startswith("Serving until Ctrl-C"):
                break
        token = DEFAULT_PUBLIC_TOKEN
        with loopback_client(api_url) as http:
            got = data(http.get(f"/sdk/v1/projects/bootstrap/{token}"))
            assert got["project_name"] == "Notebook app"
            assert got["pkce_required_for_oauth"] and got["pkce_required_for_password_resets"]
            assert not got["pkce_required_for_email_magic_links"]
            response = preflight(http, "/sdk/v1/events", "https://app.example")
            assert response.headers["access-control-allow-origin"] == "https://app.example"
            params = {"public_token": token, "login_redirect_url": "https://app.example/done"}
            response = http.get("/v1/public/oauth/google/start", params=params)
            error(response, 400, "pkce_expected_code_challenge")  # the URL passed, PKCE did not
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--allow-origin", "app.example", "must look like https://host[:port]"),
        ("--redirect-url", "not a url", "is not an absolute http(s) URL"),
    ],
)
def test_cli_refuses_a_bad_setting_in_one_line(flag, value, message) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stytch_jupyter.emulator", "--port", "0", flag, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr
