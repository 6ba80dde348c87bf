"""``%stytch`` for a B2B project: discovery, organizations, switching, MFA.

  login discovery --email E [--code] [--paste]
                                       find your organizations (an emailed link, or a code),
                                       then pick one by number
  login otp|magic-link|password --email E --org ORG
                                       sign in to one organization (id or slug)
  login sso --org SLUG | --connection ID [--paste] [--no-browser]
                                       single sign-on: open the address; the redirect comes
                                       back to the kernel (or paste the address it lands on)
  login resume                         paste the address a sign-in redirect opened
  orgs                                 the organizations found, and which one you are in
  switch ORG                           move the session to another organization
  mfa totp|sms                         the second factor an organization asks for

The links (magic links, discovery links, SSO) are PKCE redirect flows of the redirect core: the
cell waits only while the redirect can come back by itself (loopback, the Jupyter server's
callback), else it asks for the address pasted. Secrets (codes, passwords, links) are read with
``getpass`` only, as everywhere in
``%stytch``; an organization's number is not a secret and is read with ``input``. The slugs of
the last discovery in this kernel complete after ``switch`` and ``--org``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..api.secret import Secret
from ..errors import StytchCommandError

if TYPE_CHECKING:
    from ..api.b2b_models import B2BAuthenticateResponse, DiscoveredOrganization, DiscoveryResponse
    from ..session.redirect import RedirectFlow
    from .stytch_object import NotebookStytch

FinishRedirect = Callable[["RedirectFlow[Any]", str], Any]
PASTE_HELP = "paste the address the redirect opens (for a kernel on another machine)"

MFA_METHODS = ("totp", "sms")
# What Stytch answers for an intermediate session token it no longer knows (expired after its
# 10 minutes, or used), and what %stytch says then.
IST_GONE = "intermediate_session_not_found"
IST_GONE_MESSAGE = (
    "the discovery expired (a sign-in half-way lasts 10 minutes) or was used: "
    "start again with %stytch login discovery --email E"
)
_recent_slugs: list[str] = []  # of the last discovery in this kernel: for completion only


def add_b2b_arguments(
    sub: Any, login_methods: Any, org_logins: Sequence[argparse.ArgumentParser]
) -> None:
    """Add the B2B words to ``%stytch``'s parser (they are refused on a consumer project)."""
    for method in org_logins:
        method.add_argument(
            "--org", metavar="ORG", help="B2B: the organization (id or slug) to sign in to"
        )
    discovery = login_methods.add_parser(
        "discovery", help="B2B: find your organizations by email, then pick one"
    )
    discovery.add_argument("--email", required=True, metavar="E", help="your email address")
    discovery.add_argument(
        "--code", action="store_true", help="email a one-time code instead of a link"
    )
    discovery.add_argument("--paste", action="store_true", help=PASTE_HELP)
    discovery.add_argument("--duration", type=_duration, metavar="D", help="session length")
    sso = login_methods.add_parser("sso", help="B2B: single sign-on for an organization")
    which = sso.add_mutually_exclusive_group(required=True)
    which.add_argument("--org", metavar="SLUG", help="the organization's default connection")
    which.add_argument("--connection", metavar="ID", help="an SSO connection id")
    sso.add_argument(
        "--redirect-url", metavar="URL", help="where the sign-in lands (default: the project's)"
    )
    sso.add_argument("--paste", action="store_true", help=PASTE_HELP)
    sso.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open the address in this machine's browser",
    )
    sso.add_argument("--duration", type=_duration, metavar="D", help="session length")
    sub.add_parser("orgs", help="B2B: your organizations, and the one you are in")
    switch = sub.add_parser("switch", help="B2B: move the session to another organization")
    switch.add_argument("org", metavar="ORG", help="the organization (id or slug)")
    mfa = sub.add_parser("mfa", help="B2B: pass the second factor an organization requires")
    mfa.add_argument("method", choices=MFA_METHODS, help="totp (an authenticator app) or sms")


def _duration(text: str) -> int:
    from .arguments import parse_duration

    return parse_duration(text)


def complete_slugs(words: Sequence[str], current: str) -> list[str] | None:
    """Organization slugs from the last discovery where an organization is typed, else None."""
    if (words[:1] == ["switch"] and len(words) == 1) or (words and words[-1] == "--org"):
        return [slug for slug in _recent_slugs if slug.startswith(current)]
    return None


def _remember(found: Sequence[DiscoveredOrganization]) -> None:
    _recent_slugs[:] = [d.organization.organization_slug for d in found]


class B2BCommands:
    """The handlers of the B2B subcommands, over the notebook's ``stytch`` object."""

    def __init__(
        self,
        manager: NotebookStytch,
        secret: Callable[..., Secret],
        ask: Callable[[str], str] | None = None,
        *,
        finish_redirect: FinishRedirect,
        paste_redirect: Callable[[str], Any],
    ) -> None:
        # Any: a B2B project's namespaces (stytch.discovery, stytch.totp, ...) are set on the
        # object when its kind is known, so the type checker cannot see them.
        self.manager: Any = manager
        self._secret = secret  # %stytch's hidden prompt: secret(prompt, strip=True)
        self._ask = ask  # for an organization's number (not a secret); None: input()
        # %stytch's own: wait for a flow's redirect where it comes back by itself, else ask
        # for the address pasted; and the paste alone (login resume).
        self._finish = finish_redirect
        self._paste = paste_redirect

    def _require_b2b(self, what: str) -> None:
        if self.manager.vertical.name != "b2b":
            raise UsageError(
                f"%stytch {what}: this is a consumer project; organizations are B2B "
                "(%config Stytch.vertical = 'b2b' for a B2B project)"
            )

    # ---- login ------------------------------------------------------------------------------

    def login(self, args: argparse.Namespace, email: str) -> B2BAuthenticateResponse:
        self._require_b2b(f"login {args.method}")
        if args.method == "discovery":
            return self._login_discovery(email, args)
        if args.method == "sso":
            return self._login_sso(args)
        if args.method == "resume":
            return self._resumed(self._paste("resume"), None)
        if not getattr(args, "org", None):
            raise UsageError(
                f"%stytch login {args.method}: --org ORG is needed in a B2B project "
                "(or %stytch login discovery --email E to find your organizations)"
            )
        stytch, org, duration = self.manager, args.org, args.duration
        if args.method == "otp":
            stytch.otps.email.login_or_signup(org, email)
            _say(f"Sent a one-time code to {email}.")
            code = self._secret("Code from the email: ")
            response = stytch.otps.email.authenticate(org, email, code, duration)
        elif args.method == "password":
            password = self._secret(f"Password for {email}: ", strip=False)
            response = stytch.passwords.authenticate(org, email, password, duration)
        else:  # magic-link: a PKCE flow; the link comes back by itself, or is pasted
            flow = stytch.magic_links.email.login_or_signup(
                org, email, route=_route(args), session_duration_minutes=duration
            )
            _say(f"Sent a sign-in link to {email}.")
            response = self._finish(flow, "it")
        return self._after(response)

    def _resumed(
        self, response: B2BAuthenticateResponse | DiscoveryResponse, duration: int | None
    ) -> B2BAuthenticateResponse:
        """A redirect's outcome: organizations to pick from (discovery), or a sign-in."""
        from ..api.b2b_models import DiscoveryResponse

        if isinstance(response, DiscoveryResponse):
            return self._enter(response, duration)
        return self._after(response)

    def _login_discovery(self, email: str, args: argparse.Namespace) -> B2BAuthenticateResponse:
        stytch = self.manager
        if args.code:
            stytch.otps.email.discovery.send(email)
            _say(f"Sent a one-time code to {email}.")
            found = stytch.otps.email.discovery.authenticate(email, self._secret("Code: "))
        else:
            flow = stytch.magic_links.email.discovery.send(email, route=_route(args))
            _say(f"Sent a link to {email} to find your organizations.")
            found = self._finish(flow, "it")
        return self._enter(found, args.duration, email)

    def _enter(
        self, found: DiscoveryResponse, duration: int | None, email: str | None = None
    ) -> B2BAuthenticateResponse:
        """Pick one of a discovery's organizations (by number) and exchange into it."""
        stytch = self.manager
        email = email or found.email_address
        organizations = found.discovered_organizations
        _remember(organizations)
        if not organizations:
            raise StytchCommandError(
                f"{email} belongs to no organization yet: create one with "
                "stytch.discovery.organizations.create(organization_name=...)",
                "NoOrganization",
            )
        print(_numbered(organizations))
        choice = organizations[self._pick(len(organizations))]
        slug = choice.organization.organization_slug
        response = stytch.discovery.intermediate_sessions.exchange(
            choice.organization.organization_id, duration
        )
        _say(f"Entering {slug}.")
        return self._after(response)

    def _login_sso(self, args: argparse.Namespace) -> B2BAuthenticateResponse:
        flow = self.manager.sso.start(
            connection_id=args.connection,
            organization_slug=args.org,
            login_redirect_url=args.redirect_url,
            signup_redirect_url=args.redirect_url,
            route=_route(args),
            session_duration_minutes=args.duration,
            open_browser=False if args.no_browser else None,
        )
        opened = flow.browser is not None and flow.browser.opened
        _say(
            "Sign in with SSO"
            + (" (opened in your browser; if it did not open, open this)" if opened else "")
            + f": {flow.url}"
        )
        return self._after(self._finish(flow, "that address"))

    def _pick(self, count: int) -> int:
        if count == 1:
            return 0
        try:
            ask = self._ask or input  # looked up now: ipykernel replaces input() per request
            answer = ask(f"Organization number (1-{count}): ").strip()
        except (KeyboardInterrupt, EOFError):
            raise StytchCommandError("cancelled: nothing changed", "Cancelled") from None
        if not answer.isdigit() or not 1 <= int(answer) <= count:
            raise UsageError(f"%stytch login discovery: pick a number from 1 to {count}")
        return int(answer) - 1

    # ---- orgs, switch, mfa ------------------------------------------------------------------

    def orgs(self, args: argparse.Namespace) -> None:
        self._require_b2b("orgs")
        stytch = self.manager
        if stytch.signed_in or stytch.intermediate_session_token is not None:
            found = stytch.discovery.organizations.list()
        else:
            found = stytch.discovery.discovered
        _remember(found)
        if not found:
            print("No organizations known: %stytch login discovery --email E finds yours.")
            return
        current = stytch.organization.organization_id if stytch.organization else None
        print(_numbered(found, current if stytch.signed_in else None))

    def switch(self, args: argparse.Namespace) -> B2BAuthenticateResponse:
        self._require_b2b("switch")
        if self.manager.signed_in:
            response = self.manager.sessions.exchange(args.org)
        elif self.manager.intermediate_session_token is not None:
            response = self.manager.discovery.intermediate_sessions.exchange(args.org)
        else:
            raise UsageError("%stytch switch: not signed in (%stytch login discovery --email E)")
        return self._after(response)

    def mfa(self, args: argparse.Namespace) -> B2BAuthenticateResponse:
        self._require_b2b("mfa")
        stytch = self.manager
        if stytch.status != "needs_mfa":
            raise UsageError("%stytch mfa: no organization is asking for a second factor now")
        if args.method == "sms":
            stytch.otps.sms.send()
            member = stytch.member
            phone = member.mfa_phone_number if member and member.mfa_phone_number else "your phone"
            _say(f"Sent a code to {phone}.")
            by_sms: B2BAuthenticateResponse = stytch.otps.sms.authenticate(
                self._secret("Code from the text: ")
            )
            return by_sms
        member = stytch.member
        if member is None or not member.totp_registration_id:
            raise UsageError(
                "%stytch mfa totp: no authenticator app is registered for you: "
                "stytch.totp.create() registers one (its secret is returned to you, never "
                "shown here), or use %stytch mfa sms"
            )
        response: B2BAuthenticateResponse = stytch.totp.authenticate(
            self._secret("Code from your authenticator app: ")
        )
        return response

    # ---- what happened ----------------------------------------------------------------------

    def _after(self, response: B2BAuthenticateResponse) -> B2BAuthenticateResponse:
        """Signed in, or the MFA step at once when the organization asks for it."""
        if response.member_session is not None:
            return response
        mfa = response.mfa_required
        if mfa is None:
            allowed = ", ".join(response.primary_required or ()) or "another factor"
            raise StytchCommandError(
                f"{response.organization.organization_slug} asks for {allowed} to sign in",
                "PrimaryRequired",
            )
        slug = response.organization.organization_slug
        if mfa.secondary_auth_initiated == "sms_otp":
            _say(f"{slug} requires MFA: a code was texted to {mfa.mfa_phone_number}.")
            by_sms: B2BAuthenticateResponse = self.manager.otps.sms.authenticate(
                self._secret("Code from the text: ")
            )
            return by_sms
        if mfa.totp_registration_id:
            _say(f"{slug} requires MFA.")
            code = self._secret("Code from your authenticator app: ")
            passed: B2BAuthenticateResponse = self.manager.totp.authenticate(code)
            return passed
        raise StytchCommandError(
            f"{slug} requires MFA: %stytch mfa sms (or register an authenticator app with "
            "stytch.totp.create(), then %stytch mfa totp)",
            "MfaRequired",
        )


def who(response: B2BAuthenticateResponse) -> str:
    return f"{response.member.email_address} in {response.organization.organization_slug}"


def _numbered(found: Sequence[DiscoveredOrganization], current: str | None = None) -> str:
    lines = []
    for index, entry in enumerate(found, 1):
        org = entry.organization
        mark = "  (you are here)" if org.organization_id == current else ""
        kind = entry.membership_type.replace("_", " ")
        mfa = ", MFA" if entry.mfa_required is not None else ""
        lines.append(
            f"  {index}. {org.organization_slug}: {org.organization_name} ({kind}{mfa}){mark}"
        )
    return "\n".join(["Your organizations:", *lines])


def _route(args: argparse.Namespace) -> str | None:
    return "paste" if getattr(args, "paste", False) else None


def _say(message: str) -> None:
    print(message, flush=True)
