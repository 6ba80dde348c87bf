"""Calls to an emulator over loopback as Stytch's SDKs make them, and checks of their answers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from stytch_jupyter.emulator import Emulator


def loopback_client(base_url: str = "", **options: Any) -> httpx.Client:
    """A client for a server of the tests on loopback over plain http: no proxy from the
    environment, and no CA bundle (nothing to verify; httpx loads one for every client it
    makes, 25-40 ms of CPU each, which added up to seconds over the fast tier)."""
    return httpx.Client(base_url=base_url, trust_env=False, verify=False, **options)


def get(url: str, **options: Any) -> httpx.Response:
    """``httpx.get`` through ``loopback_client``."""
    with loopback_client() as client:
        return client.get(url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    """``httpx.post`` through ``loopback_client``."""
    with loopback_client() as client:
        return client.post(url, **options)


def sdk(
    http: httpx.Client,
    emu: Emulator,
    path: str,
    body: dict[str, Any] | None = None,
    session: str | None = None,
    method: str = "POST",
) -> httpx.Response:
    """A client-API call as a frontend SDK makes it."""
    auth = (emu.public_token, session or emu.public_token)
    if method in ("GET", "DELETE"):
        return http.request(method, f"/sdk/v1/{path}", auth=auth)
    return http.request(method, f"/sdk/v1/{path}", json=body or {}, auth=auth)


def backend(
    http: httpx.Client,
    emu: Emulator,
    path: str,
    body: dict[str, Any] | None = None,
    method: str = "POST",
) -> httpx.Response:
    auth = (emu.project_id, emu.secret)
    if method in ("GET", "DELETE"):
        return http.request(method, f"/v1/{path}", auth=auth)
    return http.request(method, f"/v1/{path}", json=body or {}, auth=auth)


def data(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a client-API success (or the body of a backend one)."""
    assert response.status_code == 200, response.text
    body = response.json()
    result: dict[str, Any] = body["data"] if set(body) == {"data"} else body
    assert result["status_code"] == 200
    assert result["request_id"].startswith("request-id-test-")
    return result


def error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status_code", "request_id", "error_type", "error_message", "error_url"}
    assert body["status_code"] == status
    assert body["error_type"] == error_type, body
    assert body["error_message"]
    return body


def otp_sign_in(
    http: httpx.Client, emu: Emulator, email: str = "ada@example.com", minutes: int = 60
) -> dict[str, Any]:
    method_id = data(sdk(http, emu, "otps/email/login_or_create", {"email": email}))["method_id"]
    _, code = emu.last_otp(email)
    body = {"token": code, "method_id": method_id, "session_duration_minutes": minutes}
    return data(sdk(http, emu, "otps/authenticate", body))


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
