"""Every B2B client-API reply the emulator gives validates against Stytch's own client OpenAPI
spec (stytch-mobile's ``openapi.yml``).

The schemas come from ``stytch_client_openapi_b2b_subset.json``, the B2B part of the spec that
``tools/openapi_subset.py`` extracts (its licence is ``STYTCH_MOBILE_LICENSE.txt``). The test
drives every ``/sdk/v1/b2b`` endpoint the emulator serves, records each reply and validates its
``data`` against the path's 200 schema (JSON Schema 2020-12), errors against the spec's error
example's keys, and reports the count (``-rA``).

As the spec's authors note, real replies carry explicit ``null`` for optional objects the spec
does not mark nullable, so nulls are dropped before validating (STYTCH_API_NEXT.md §5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator

from stytch_jupyter.emulator import Emulator

SUBSET = Path(__file__).parent / "stytch_client_openapi_b2b_subset.json"
SPEC: dict[str, Any] = json.loads(SUBSET.read_text())
EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"
PHONE = "+15555550100"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class Recorder:
    """Every reply to ``/sdk/v1/b2b``, as ``(method, path, status, body)``."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, str, int, Any]] = []

    def __call__(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if path.startswith("/sdk/v1/b2b/"):
            response.read()
            self.replies.append(
                (response.request.method, path, response.status_code, response.json())
            )


@pytest.fixture
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_hex(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def drive(emu: Emulator, http: httpx.Client) -> None:
    """One pass over every B2B client endpoint, successes and a few errors."""

    def call(path: str, body: dict[str, Any] | None = None, session: str | None = None) -> Any:
        auth = (emu.public_token, session or emu.public_token)
        reply = http.post(f"/sdk/v1/b2b/{path}", json=body or {}, auth=auth)
        return reply.json().get("data")

    def get(path: str, session: str) -> None:
        http.get(f"/sdk/v1/b2b/{path}", auth=(emu.public_token, session))

    acme = emu.create_organization(
        "Acme",
        "acme",
        email_allowed_domains=["acme.test"],
        sso_connections=[{"kind": "saml"}, {"kind": "oidc"}],
    )
    vault = emu.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    emu.create_organization("Strict", "strict", allowed_auth_methods=["sso"])
    emu.create_member("acme", EMAIL, password=PASSWORD)
    emu.create_member("strict", EMAIL, password=PASSWORD)
    vault_member = emu.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number=PHONE)
    acme_id, vault_id = acme["organization_id"], vault["organization_id"]

    # Discovery by magic link, email OTP, password; list; exchange; create.
    verifier, challenge = _pkce()
    call(
        "magic_links/email/discovery/send",
        {"email_address": EMAIL, "pkce_code_challenge": challenge},
    )
    found = call(
        "magic_links/discovery/authenticate",
        {
            "discovery_magic_links_token": _token(emu.last_magic_link(EMAIL)),
            "pkce_code_verifier": verifier,
        },
    )
    ist = found["intermediate_session_token"]
    call("discovery/organizations", {"intermediate_session_token": ist})
    signed_in = call(
        "discovery/intermediate_sessions/exchange",
        {
            "intermediate_session_token": ist,
            "organization_id": acme_id,
            "session_duration_minutes": 60,
        },
    )
    token = signed_in["session_token"]
    call("discovery/organizations", session=token)
    call("otps/email/discovery/send", {"email_address": EMAIL})
    by_code = call(
        "otps/email/discovery/authenticate",
        {"email_address": EMAIL, "code": emu.last_otp(EMAIL)[1]},
    )
    call(
        "discovery/organizations/create",
        {
            "intermediate_session_token": by_code["intermediate_session_token"],
            "organization_name": "Lab",
        },
    )
    by_password = call(
        "passwords/discovery/authenticate", {"email_address": EMAIL, "password": PASSWORD}
    )
    call(
        "discovery/intermediate_sessions/exchange",
        {
            "intermediate_session_token": by_password["intermediate_session_token"],
            "organization_id": vault_id,
        },
    )  # MFA shape, with an IST (and an auto-sent SMS)
    call(
        "discovery/intermediate_sessions/exchange",
        {
            "intermediate_session_token": by_password["intermediate_session_token"],
            "organization_id": acme_id,
        },
    )  # an error: the IST is spent

    # Organization sign-ins.
    call("magic_links/email/login_or_signup", {"email_address": EMAIL, "organization_id": acme_id})
    call("magic_links/authenticate", {"magic_links_token": _token(emu.last_magic_link(EMAIL))})
    call("otps/email/login_or_signup", {"email_address": EMAIL, "organization_id": acme_id})
    call(
        "otps/email/authenticate",
        {"email_address": EMAIL, "organization_id": acme_id, "code": emu.last_otp(EMAIL)[1]},
    )
    call(
        "passwords/authenticate",
        {"email_address": EMAIL, "organization_id": "strict", "password": PASSWORD},
    )
    call(
        "passwords/authenticate",
        {"email_address": EMAIL, "organization_id": acme_id, "password": "wrong"},
    )

    # Sessions.
    call("sessions/authenticate", {"session_duration_minutes": 30}, session=token)
    get("organizations/members/me", token)
    get("organizations/me", token)
    to_vault = call("sessions/exchange", {"organization_id": vault_id}, session=token)

    # MFA: SMS, TOTP, recovery codes.
    ids = {"organization_id": vault_id, "member_id": vault_member["member_id"]}
    mfa_ist = to_vault["intermediate_session_token"]
    call("otps/sms/send", {**ids, "intermediate_session_token": mfa_ist})
    vault_session = call(
        "otps/sms/authenticate",
        {**ids, "intermediate_session_token": mfa_ist, "code": emu.last_sms_code(PHONE)},
    )
    totp = call("totp", ids, session=vault_session["session_token"])
    call(
        "totp/authenticate",
        {**ids, "code": emu.totp_code("vault", vault_member["member_id"])},
        session=vault_session["session_token"],
    )
    call(
        "recovery_codes/recover",
        {**ids, "recovery_code": totp["recovery_codes"][0]},
        session=vault_session["session_token"],
    )

    # SSO and OAuth through the identity provider.
    for connection in acme["sso_active_connections"]:
        verifier, challenge = _pkce()
        start = (
            f"{emu.api_url}/v1/public/sso/start?public_token={emu.public_token}"
            f"&connection_id={connection['connection_id']}&pkce_code_challenge={challenge}"
        )
        sso_token = _token(emu.complete_idp(start, EMAIL))
        call("sso/authenticate", {"sso_token": sso_token, "pkce_code_verifier": verifier})
    start = (
        f"{emu.api_url}/v1/b2b/public/oauth/google/start?public_token={emu.public_token}&slug=acme"
    )
    call("oauth/authenticate", {"oauth_token": _token(emu.complete_idp(start, EMAIL))})
    start = (
        f"{emu.api_url}/v1/b2b/public/oauth/microsoft/discovery/start"
        f"?public_token={emu.public_token}"
    )
    call(
        "oauth/discovery/authenticate",
        {"discovery_oauth_token": _token(emu.complete_idp(start, EMAIL))},
    )

    call("organizations/search", {"organization_slug": "acme"})
    call("sessions/revoke", session=token)
    call("sessions/authenticate", session=token)  # an error: revoked


def _schema_of(method: str, path: str) -> dict[str, Any] | None:
    for operation, schema in SPEC["operations"].items():
        verb, template = operation.split(" ", 1)
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if verb == method and re.match(pattern, path):
            found: dict[str, Any] = schema
            return found
    return None


def test_every_b2b_client_reply_validates_against_the_spec(b2b: Emulator) -> None:
    recorder = Recorder()
    with httpx.Client(
        base_url=b2b.api_url, trust_env=False, timeout=10, event_hooks={"response": [recorder]}
    ) as http:
        drive(b2b, http)

    error_keys = {"status_code", "request_id", "error_type", "error_message", "error_url"}
    validated: dict[str, int] = {}
    problems: list[str] = []
    errors_seen = 0
    for method, path, status, body in recorder.replies:
        if status != 200:
            errors_seen += 1
            if set(body) != error_keys:
                problems.append(f"{method} {path} {status}: error keys {sorted(body)}")
            continue
        schema = _schema_of(method, path)
        if schema is None:
            problems.append(f"{method} {path}: not in the spec")
            continue
        validator = Draft202012Validator({**schema, "components": SPEC["components"]})
        for failure in validator.iter_errors(_without_nulls(body["data"])):
            where = "/".join(str(p) for p in failure.absolute_path)
            problems.append(f"{method} {path}: {where}: {failure.message[:200]}")
        validated[path] = validated.get(path, 0) + 1

    assert not problems, "\n".join(problems)
    served = {path for _, path, _, _ in recorder.replies}
    # Every B2B client endpoint the emulator serves answered at least once with success
    # (25 POST paths, 2 GET).
    assert len(served) == 27, sorted(served)
    assert set(validated) == served, sorted(served - set(validated))

    # The check is not vacuous: a reply missing a required field fails it.
    _, path, _, body = next(r for r in recorder.replies if r[1].endswith("/sessions/authenticate"))
    schema = _schema_of("POST", path)
    assert schema is not None
    broken = {k: v for k, v in body["data"].items() if k != "member"}
    validator = Draft202012Validator({**schema, "components": SPEC["components"]})
    assert any("member" in f.message for f in validator.iter_errors(broken))
    assert errors_seen >= 3
    total = sum(validated.values())
    print(
        f"\n{total} B2B client replies validated against {SUBSET.name} "
        f"({len(validated)} endpoints), {errors_seen} error replies checked"
    )
