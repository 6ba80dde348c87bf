"""The B2B starts (SSO and OAuth) and the emulator's own identity provider behind them.

A start URL (``GET /v1/public/sso/start?...``, ``/v1/b2b/public/oauth/{provider}/start?...``, each
also without ``/v1`` as the KMP beta SDK builds them) checks its query and redirects to a consent
page at ``/emulator/v1/b2b/idp/{flow_id}``: the SAML/OIDC (or OAuth) hop, where a person says who
they are. Approving redirects to the flow's redirect URL with ``stytch_token_type=sso`` (``oauth``,
``discovery_oauth``) and ``token``, which ``b2b/sso/authenticate`` (or the OAuth ones) redeems.
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import b2b_errors as e
from .b2b_state import IDP_TOKEN_MINUTES, B2BState
from .defaults import CONTROL_PREFIX, MAGIC_LINK_LANDING_PATH
from .errors import EmulatorError, bad_request

IDP_PATH = f"{CONTROL_PREFIX}/b2b/idp"
# The B2B OAuth providers Stytch's SDKs list.
B2B_OAUTH_PROVIDERS = ("google", "microsoft", "hubspot", "slack", "github")
# UNVERIFIED: what Stytch sends back when the person refuses at the identity provider. Here the
# redirect still happens (so a waiting listener stops), with an OAuth-style error and no token.
DENIED_ERROR = "access_denied"
# A consent form field may be this long at most (an email, a display name).
_MAX_FIELD = 320


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

    def get(self, flow_id: str, now: datetime) -> Flow:
        with self._lock:
            flow = self._flows.get(flow_id)
        if flow is None or now >= flow.expires_at:
            raise EmulatorError(404, "idp_flow_not_found", "This sign-in page has expired.")
        return flow

    def take(self, flow_id: str, now: datetime) -> Flow:
        flow = self.get(flow_id, now)
        with self._lock:
            self._flows.pop(flow_id, None)
        return flow

    def reset(self) -> None:
        with self._lock:
            self._flows.clear()


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))


def _redirect_url(value: str | None, default: str) -> str:
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EmulatorError(
            400, e.INVALID_REDIRECT_URL, "Redirect URLs must be absolute http(s) URLs."
        )
    return value


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Stytch emulator: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em}}
label{{display:block;margin:.8em 0}}input{{width:100%;padding:.3em;font:inherit}}
button{{font:inherit;padding:.4em 1.2em;margin-right:.6em}}</style></head>
<body><h1>{title}</h1>
<p>This is the local Stytch emulator's identity provider ({what}). Say who you are; approving
sends you back to <code>{back}</code> with a one-time token.</p>
<form method="post" action="{action}">
<label>Email <input name="email" type="email" required value="{email}" autofocus></label>
<label>Name (optional) <input name="name" value=""></label>
<button name="decision" value="approve" type="submit">Approve</button>
<button name="decision" value="deny" type="submit" formnovalidate>Deny</button>
</form></body></html>
"""


def sso_routes(b2b: B2BState, public_token: str) -> list[Route]:
    flows = Flows()
    b2b.core.on_reset(flows.reset)

    def check_public_token(request: Request) -> None:
        given = request.query_params.get("public_token", "")
        if not hmac.compare_digest(given.encode("utf-8"), public_token.encode("utf-8")):
            raise EmulatorError(
                401, "invalid_public_token", "The public_token is missing or unknown."
            )

    def landing(request: Request) -> str:
        return str(request.base_url).rstrip("/") + MAGIC_LINK_LANDING_PATH

    def begin(request: Request, flow: Flow) -> Response:
        flows.add(flow)
        return RedirectResponse(f"{IDP_PATH}/{flow.flow_id}", status_code=302)

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
                raise bad_request("connection_id is required.")
            org = b2b.organization(ref)
            if org.sso_default_connection_id is None:
                raise EmulatorError(
                    404, e.SSO_CONNECTION_NOT_FOUND, "This organization has no SSO connection."
                )
            connection_id = org.sso_default_connection_id
        org, connection = b2b.sso_connection(connection_id)
        login = _redirect_url(query.get("login_redirect_url"), landing(request))
        flow = Flow(
            kind="sso",
            organization_id=org.organization_id,
            connection_id=connection.connection_id,
            provider=None,
            login_url=login,
            signup_url=_redirect_url(query.get("signup_redirect_url"), login),
            code_challenge=query.get("pkce_code_challenge") or None,
            expires_at=expiry(),
        )
        return begin(request, flow)

    def provider_of(request: Request) -> str:
        provider = str(request.path_params["provider"])
        if provider not in B2B_OAUTH_PROVIDERS:
            raise EmulatorError(
                400,
                "invalid_oauth_provider",
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
        login = _redirect_url(query.get("login_redirect_url"), landing(request))
        flow = Flow(
            kind="oauth",
            organization_id=org.organization_id,
            connection_id=None,
            provider=provider,
            login_url=login,
            signup_url=_redirect_url(query.get("signup_redirect_url"), login),
            code_challenge=query.get("pkce_code_challenge") or None,
            expires_at=expiry(),
        )
        return begin(request, flow)

    async def oauth_discovery_start(request: Request) -> Response:
        check_public_token(request)
        provider = provider_of(request)
        query = request.query_params
        url = _redirect_url(query.get("discovery_redirect_url"), landing(request))
        flow = Flow(
            kind="discovery_oauth",
            organization_id=None,
            connection_id=None,
            provider=provider,
            login_url=url,
            signup_url=url,
            code_challenge=query.get("pkce_code_challenge") or None,
            expires_at=expiry(),
        )
        return begin(request, flow)

    async def consent_page(request: Request) -> HTMLResponse:
        flow = flows.get(request.path_params["flow_id"], b2b.clock.now())
        email = ""
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
            active = [m for m in b2b.members(flow.organization_id) if m.status == "active"]
            email = active[0].email_address if active else ""
        page = _PAGE.format(
            title=html.escape(title),
            what=html.escape(what),
            back=html.escape(urlsplit(flow.login_url)._replace(query="").geturl()),
            action=html.escape(f"{IDP_PATH}/{flow.flow_id}"),
            email=html.escape(email),
        )
        # The page is the emulator's own: no framing by other origins.
        return HTMLResponse(page, headers={"X-Frame-Options": "DENY"})

    async def consent_answer(request: Request) -> Response:
        flow = flows.take(request.path_params["flow_id"], b2b.clock.now())
        # Parsed here: starlette's form parser needs python-multipart, which the emulator lacks.
        raw = (await request.body()).decode("utf-8", errors="replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        decision = str(form.get("decision", "approve"))
        token_type = flow.kind
        if decision != "approve":
            target = _with_query(
                flow.login_url, {"stytch_token_type": token_type, "error": DENIED_ERROR}
            )
            return RedirectResponse(target, status_code=303)
        email = str(form.get("email", "")).strip()
        name = str(form.get("name", "")).strip()
        if not email or "@" not in email or len(email) > _MAX_FIELD or len(name) > _MAX_FIELD:
            raise EmulatorError(400, "invalid_email", "The email is not a valid email address.")
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
            m.email_address == email.lower() and m.status != "deleted"
            for m in b2b.members(flow.organization_id)
        )
        base = flow.login_url if known or flow.kind == "discovery_oauth" else flow.signup_url
        target = _with_query(base, {"stytch_token_type": token_type, "token": token})
        return RedirectResponse(target, status_code=303)

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
