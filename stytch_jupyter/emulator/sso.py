"""The B2B starts (SSO and OAuth) and the emulator's own identity provider behind them.

A start URL (``GET /v1/public/sso/start?...``, ``/v1/b2b/public/oauth/{provider}/start?...``, each
also without ``/v1`` as the KMP beta SDK builds them) checks its query and redirects to a consent
page at ``/emulator/v1/b2b/idp/{flow_id}``: the SAML/OIDC (or OAuth) hop, where a person says who
they are. Approving redirects to the flow's redirect URL with ``stytch_token_type=sso`` (``oauth``,
``discovery_oauth``) and ``token``, which ``b2b/sso/authenticate`` (or the OAuth ones) redeems.

The conventions are the consumer OAuth provider's (``oauth_api``): the public token compared in
constant time, redirect URLs checked against the project's allowlist (loopback
``…/stytch-jupyter/callback`` always allowed), PKCE required when the project says so, a denial
redirecting with Stytch's error fields, and nothing cached or referred on.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import b2b_errors as e
from . import errors
from .b2b_core import IDP_TOKEN_MINUTES
from .b2b_state import B2BState
from .defaults import CONTROL_PREFIX, MAGIC_LINK_LANDING_PATH
from .errors import EmulatorError, bad_request
from .models import same_secret
from .project import ProjectSettings
from .wire import is_email

IDP_PATH = f"{CONTROL_PREFIX}/b2b/idp"
# The B2B OAuth providers Stytch's SDKs list.
B2B_OAUTH_PROVIDERS = ("google", "microsoft", "hubspot", "slack", "github")
# UNVERIFIED: what Stytch sends back when the person refuses at the identity provider. As the
# consumer provider does, the redirect still happens (a waiting listener stops) with Stytch's
# error fields and no token.
DENIED_ERROR_TYPES = {
    "sso": "sso_user_denied_access",
    "oauth": errors.OAUTH_USER_DENIED,
    "discovery_oauth": errors.OAUTH_USER_DENIED,
}
# An S256 challenge is base64url (no padding) of 32 bytes: 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# A form post is small; anything larger is not from the consent page.
_MAX_FORM_BYTES = 16_384
_MAX_NAME = 200


@dataclass
class Flow:
    kind: str  # sso | oauth | discovery_oauth
    organization_id: str | None
    connection_id: str | None
    provider: str | None
    login_url: str
    signup_url: str
    code_challenge: str | None
    expires_at: datetime
    flow_id: str = field(default_factory=lambda: secrets.token_urlsafe(16))


class Flows:
    """Consent pages waiting for an answer; each answers once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flows: dict[str, Flow] = {}

    def add(self, flow: Flow) -> Flow:
        with self._lock:
            self._flows[flow.flow_id] = flow
            return flow

    def get(self, flow_id: str, now: datetime, *, take: bool = False) -> Flow:
        with self._lock:
            flow = self._flows.get(flow_id)
            if flow is None or now >= flow.expires_at:
                raise EmulatorError(
                    404, e.IDP_FLOW_NOT_FOUND, "This sign-in page is unknown, used or expired."
                )
            if take:
                del self._flows[flow_id]
            return flow

    def reset(self) -> None:
        with self._lock:
            self._flows.clear()


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))


def _no_store(response: Response) -> Response:
    # The page holds a flow id and the redirect a token: never cached, framed or referred on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} (emulated)</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#222}}
fieldset{{border:1px solid #ccc;border-radius:6px;margin:1em 0}}
label{{display:block;margin:.3em 0}} input[type=email],input[type=text]{{width:100%;padding:.4em}}
button{{font-size:1em;padding:.5em 1.2em;margin-right:.6em}} small{{color:#666}}
</style></head>
<body>
<h1>{title}</h1>
<p><small>This is the local Stytch emulator playing the identity provider ({what}).</small></p>
<form method="post" action="{action}">
<fieldset><legend>Continue as</legend>
{users}
<label for="email">or another address</label>
<input type="email" id="email" name="email" placeholder="ada@example.com" autocomplete="off">
<label for="name">Name (optional)</label>
<input type="text" id="name" name="name" autocomplete="off">
</fieldset>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
<p><small>Then back to {back}</small></p>
</body></html>
"""


def _user_choices(emails: list[str]) -> str:
    if not emails:
        return "<p><small>No members yet: type an address.</small></p>"
    return "\n".join(
        f'<label><input type="radio" name="user" value="{html.escape(e)}"> {html.escape(e)}</label>'
        for e in emails
    )


def sso_routes(b2b: B2BState, public_token: str, settings: ProjectSettings) -> list[Route]:
    flows = Flows()
    b2b.core.on_reset(flows.reset)

    def check_public_token(request: Request) -> None:
        if not same_secret(request.query_params.get("public_token", ""), public_token):
            raise EmulatorError(
                401, errors.INVALID_PUBLIC_TOKEN, "The public token is missing or unknown."
            )

    def redirect_url(request: Request, name: str, fallback: str, kind: str) -> str:
        value = request.query_params.get(name)
        if not value:
            return fallback
        if not settings.redirect_allowed(value):
            error_type = (
                e.NO_MATCH_FOR_PROVIDED_SSO_URL
                if kind == "sso"
                else errors.NO_MATCH_FOR_PROVIDED_OAUTH_URL
            )
            raise EmulatorError(
                400, error_type, f"{name} is not one of the project's redirect URLs."
            )
        return value

    def challenge_of(request: Request, pkce_flow: str) -> str | None:
        challenge = request.query_params.get("pkce_code_challenge") or None
        if challenge is None and settings.requires_pkce(pkce_flow):
            raise EmulatorError(
                400,
                errors.PKCE_EXPECTED_CODE_CHALLENGE,
                f"This project requires PKCE for {pkce_flow}: send a pkce_code_challenge.",
            )
        if challenge is not None and not _CHALLENGE.fullmatch(challenge):
            raise EmulatorError(
                400,
                errors.INVALID_CODE_CHALLENGE,
                "pkce_code_challenge must be an S256 challenge (43 base64url characters).",
            )
        return challenge

    def landing(request: Request) -> str:
        return str(request.base_url).rstrip("/") + MAGIC_LINK_LANDING_PATH

    def begin(flow: Flow) -> Response:
        flows.add(flow)
        return _no_store(RedirectResponse(f"{IDP_PATH}/{flow.flow_id}", status_code=302))

    def expiry() -> datetime:
        return b2b.clock.now() + timedelta(minutes=IDP_TOKEN_MINUTES)

    async def sso_start(request: Request) -> Response:
        check_public_token(request)
        query = request.query_params
        connection_id = query.get("connection_id")
        if not connection_id:
            # An emulator convenience: the organization's default connection, by slug or id.
            ref = query.get("organization_slug") or query.get("organization_id")
            if not ref:
                raise bad_request("connection_id (or organization_slug) is required.")
            org = b2b.organization(ref)
            if org.sso_default_connection_id is None:
                raise EmulatorError(
                    404, e.SSO_CONNECTION_NOT_FOUND, "This organization has no SSO connection."
                )
            connection_id = org.sso_default_connection_id
        org, connection = b2b.sso_connection(connection_id)
        login = redirect_url(request, "login_redirect_url", landing(request), "sso")
        return begin(
            Flow(
                kind="sso",
                organization_id=org.organization_id,
                connection_id=connection.connection_id,
                provider=None,
                login_url=login,
                signup_url=redirect_url(request, "signup_redirect_url", login, "sso"),
                code_challenge=challenge_of(request, "sso"),
                expires_at=expiry(),
            )
        )

    def provider_of(request: Request) -> str:
        provider = str(request.path_params["provider"])
        if provider not in B2B_OAUTH_PROVIDERS:
            raise EmulatorError(
                400,
                errors.INVALID_OAUTH_PROVIDER,
                f"B2B OAuth providers are {', '.join(B2B_OAUTH_PROVIDERS)}.",
            )
        return provider

    async def oauth_start(request: Request) -> Response:
        check_public_token(request)
        provider = provider_of(request)
        query = request.query_params
        ref = query.get("organization_id") or query.get("slug") or query.get("organization_slug")
        if not ref:
            raise bad_request("organization_id or slug is required.")
        org = b2b.organization(ref)
        login = redirect_url(request, "login_redirect_url", landing(request), "oauth")
        return begin(
            Flow(
                kind="oauth",
                organization_id=org.organization_id,
                connection_id=None,
                provider=provider,
                login_url=login,
                signup_url=redirect_url(request, "signup_redirect_url", login, "oauth"),
                code_challenge=challenge_of(request, "oauth"),
                expires_at=expiry(),
            )
        )

    async def oauth_discovery_start(request: Request) -> Response:
        check_public_token(request)
        provider = provider_of(request)
        url = redirect_url(request, "discovery_redirect_url", landing(request), "oauth")
        return begin(
            Flow(
                kind="discovery_oauth",
                organization_id=None,
                connection_id=None,
                provider=provider,
                login_url=url,
                signup_url=url,
                code_challenge=challenge_of(request, "oauth"),
                expires_at=expiry(),
            )
        )

    async def consent_page(request: Request) -> Response:
        flow = flows.get(request.path_params["flow_id"], b2b.clock.now())
        emails: list[str] = []
        if flow.connection_id is not None:
            org, connection = b2b.sso_connection(flow.connection_id)
            title = f"Sign in to {org.organization_name}"
            what = f"{connection.kind.upper()} connection {connection.display_name}"
        elif flow.organization_id is not None:
            org = b2b.organization(flow.organization_id)
            title = f"Sign in to {org.organization_name} with {flow.provider}"
            what = f"{flow.provider} OAuth"
        else:
            title = f"Continue with {flow.provider}"
            what = f"{flow.provider} OAuth, discovery"
        if flow.organization_id is not None:
            members = b2b.members(flow.organization_id)
            emails = sorted(m.email_address for m in members if m.status != "deleted")
        page = _PAGE.format(
            title=html.escape(title),
            what=html.escape(what),
            back=html.escape(urlsplit(flow.login_url)._replace(query="").geturl()),
            action=html.escape(f"{IDP_PATH}/{flow.flow_id}"),
            users=_user_choices(emails),
        )
        return _no_store(HTMLResponse(page))

    async def consent_answer(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > _MAX_FORM_BYTES:
            raise bad_request("The form is too large.")
        try:
            # Parsed here: starlette's own form parser needs python-multipart.
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            raise bad_request("The form is not valid.") from None
        decision = form.get("decision", "").strip()
        if decision not in ("approve", "deny"):
            raise bad_request("decision must be approve or deny.")
        email = (form.get("email", "").strip() or form.get("user", "").strip()).lower()
        name = form.get("name", "").strip()
        if decision == "approve" and not is_email(email):
            raise EmulatorError(
                400, errors.INVALID_EMAIL, "Pick a member or type a valid email address."
            )
        if len(name) > _MAX_NAME:
            raise bad_request(f"name must be at most {_MAX_NAME} characters.")
        # A flow answers once: approved or denied, it is gone.
        flow = flows.get(request.path_params["flow_id"], b2b.clock.now(), take=True)
        if decision == "deny":
            denied = {
                "stytch_token_type": flow.kind,
                "status_code": "400",
                "error_type": DENIED_ERROR_TYPES[flow.kind],
                "error_message": "The user denied access at the identity provider.",
            }
            return _no_store(RedirectResponse(_with_query(flow.login_url, denied), 303))
        token = b2b.grant(
            flow.kind,
            email,
            organization_id=flow.organization_id,
            connection_id=flow.connection_id,
            provider=flow.provider,
            code_challenge=flow.code_challenge,
            name=name,
        )
        known = flow.organization_id is not None and any(
            m.email_address == email and m.status != "deleted"
            for m in b2b.members(flow.organization_id)
        )
        base = flow.login_url if known or flow.kind == "discovery_oauth" else flow.signup_url
        target = _with_query(base, {"stytch_token_type": flow.kind, "token": token})
        return _no_store(RedirectResponse(target, status_code=303))

    starts: list[Route] = []
    for prefix in ("/v1", ""):
        starts += [
            Route(f"{prefix}/b2b/public/sso/start", sso_start, methods=["GET"]),
            Route(f"{prefix}/b2b/public/oauth/{{provider}}/start", oauth_start, methods=["GET"]),
            Route(
                f"{prefix}/b2b/public/oauth/{{provider}}/discovery/start",
                oauth_discovery_start,
                methods=["GET"],
            ),
        ]
    return [
        Route("/v1/public/sso/start", sso_start, methods=["GET"]),
        *starts,
        Route(f"{IDP_PATH}/{{flow_id}}", consent_page, methods=["GET"]),
        Route(f"{IDP_PATH}/{{flow_id}}", consent_answer, methods=["POST"]),
    ]
