"""The emulator as an OAuth identity provider: the start URL the SDKs open, and a consent page.

``GET /v1/public/oauth/{provider}/start`` is a browser navigation (no auth header): it checks
the public token, the redirect URLs against the project's allowlist and the PKCE challenge,
then shows a page where a person picks or types a user and approves or denies. Approving
redirects to the login (or, for a new user, signup) URL with ``stytch_token_type=oauth&token=…``;
denying redirects with Stytch's error fields. ``oauth/authenticate`` lives with the client API.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import errors
from .defaults import CONTROL_PREFIX, MAGIC_LINK_LANDING_PATH
from .errors import EmulatorError
from .models import OAuthStart, same_secret
from .project import ProjectSettings
from .state import OAUTH_PROVIDERS, State
from .wire import is_email

CONSENT_PATH = f"{CONTROL_PREFIX}/oauth/consent"
# An S256 challenge is base64url (no padding) of 32 bytes: 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# A form post is small; anything larger is not from the consent page.
_MAX_FORM_BYTES = 16_384

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in with {provider} (emulated)</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#222}}
fieldset{{border:1px solid #ccc;border-radius:6px;margin:1em 0}}
label{{display:block;margin:.3em 0}} input[type=email]{{width:100%;padding:.4em;font-size:1em}}
button{{font-size:1em;padding:.5em 1.2em;margin-right:.6em}} small{{color:#666}}
</style></head>
<body>
<h1>Sign in with {provider}</h1>
<p><strong>{project}</strong> wants to sign you in with your {provider} account
<small>(this is the local Stytch emulator playing {provider})</small>.</p>
<p>Scopes: <code>{scopes}</code></p>
<form method="post" action="{action}">
<input type="hidden" name="flow" value="{flow}">
<fieldset><legend>Continue as</legend>
{users}
<label for="email">or another address</label>
<input type="email" id="email" name="email" placeholder="ada@example.com" autocomplete="off">
</fieldset>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
<p><small>Then back to {redirect}</small></p>
</body></html>
"""


def _user_choices(emails: list[str]) -> str:
    if not emails:
        return "<p><small>No users yet: type an address.</small></p>"
    return "\n".join(
        f'<label><input type="radio" name="user" value="{html.escape(e)}"> {html.escape(e)}</label>'
        for e in emails
    )


def consent_page(start: OAuthStart, project_name: str, emails: list[str]) -> str:
    provider = OAUTH_PROVIDERS[start.provider]
    return _PAGE.format(
        provider=html.escape(provider),
        project=html.escape(project_name),
        scopes=html.escape(" ".join(start.scopes)),
        action=html.escape(CONSENT_PATH),
        flow=html.escape(start.flow_id),
        users=_user_choices(emails),
        redirect=html.escape(start.login_redirect_url),
    )


def _no_store(response: Response) -> Response:
    # The page holds a flow id and the redirect a token: never cached, never referred on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def oauth_routes(state: State, public_token: str, settings: ProjectSettings) -> list[Route]:
    def redirect_url(request: Request, name: str, fallback: str) -> str:
        value = request.query_params.get(name)
        if value is None or value == "":
            return fallback
        if not settings.redirect_allowed(value):
            raise EmulatorError(
                400,
                errors.NO_MATCH_FOR_PROVIDED_OAUTH_URL,
                f"{name} is not one of the project's redirect URLs.",
            )
        return value

    async def start(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in OAUTH_PROVIDERS:
            raise EmulatorError(
                400, errors.INVALID_OAUTH_PROVIDER, "This OAuth provider is not supported."
            )
        token = request.query_params.get("public_token", "")
        if not same_secret(token, public_token):
            raise EmulatorError(
                401, errors.INVALID_PUBLIC_TOKEN, "The public token is missing or unknown."
            )
        landing = str(request.base_url).rstrip("/") + MAGIC_LINK_LANDING_PATH
        login = redirect_url(request, "login_redirect_url", landing)
        signup = redirect_url(request, "signup_redirect_url", login)
        challenge = request.query_params.get("code_challenge") or None
        if challenge is None and settings.requires_pkce("oauth"):
            raise EmulatorError(
                400,
                errors.PKCE_EXPECTED_CODE_CHALLENGE,
                "This project requires PKCE for OAuth: send a code_challenge.",
            )
        if challenge is not None and not _CHALLENGE.fullmatch(challenge):
            raise EmulatorError(
                400,
                errors.INVALID_CODE_CHALLENGE,
                "code_challenge must be an S256 challenge (43 base64url characters).",
            )
        scopes = ["openid", "email", "profile"]
        scopes += [s for s in request.query_params.get("custom_scopes", "").split() if s]
        flow = state.start_oauth(
            provider,
            login_url=login,
            signup_url=signup,
            code_challenge=challenge,
            scopes=list(dict.fromkeys(scopes)),
        )
        emails = sorted(user.email for user in state.users() if user.email)
        return _no_store(HTMLResponse(consent_page(flow, settings.project_name, emails)))

    async def consent(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > _MAX_FORM_BYTES:
            raise errors.bad_request("The form is too large.")
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise errors.bad_request("The form is not valid.") from None

        def field(name: str) -> str:
            values = form.get(name) or [""]
            return values[0].strip()

        flow_id, decision = field("flow"), field("decision")
        if decision not in ("approve", "deny"):
            raise errors.bad_request("decision must be approve or deny.")
        state.pending_oauth(flow_id)  # a used or unknown flow is refused before anything else
        email: str | None = None
        if decision == "approve":
            email = field("email") or field("user")
            if not is_email(email):
                raise EmulatorError(
                    400, errors.INVALID_EMAIL, "Pick a user or type a valid email address."
                )
        target = state.finish_oauth(flow_id, email)
        return _no_store(RedirectResponse(target, status_code=303))

    return [
        Route("/v1/public/oauth/{provider}/start", start, methods=["GET"]),
        # The same start without ``/v1``, as some SDK builds form it.
        Route("/public/oauth/{provider}/start", start, methods=["GET"]),
        Route(CONSENT_PATH, consent, methods=["POST"]),
    ]
