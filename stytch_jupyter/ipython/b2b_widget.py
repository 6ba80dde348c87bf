"""The session widget's B2B part: what a B2B project's widget shows and does.

One model, one state (``widget.py``); the vertical decides what is rendered. This module adds,
for a B2B project, to the state the page renders:

- signed out: the discovery form (email, "Send link" / "Send code"; an organization's slug for
  a direct sign-in, prefilled from ``Stytch.organization``), the code field once a code was
  sent, the box for an emailed link's address, and "Continue with SSO" for a known organization;
- ``needs_organization``: the organization picker (the discovered organizations, which ones
  require MFA or are pending, "Continue with SSO" where an organization has connections) and
  "Create organization" where the project allows it;
- ``needs_mfa``: the MFA step (an authenticator app's code, or an SMS code once sent, or a
  recovery code);
- signed in: the member and the organization, and "Switch organization" (the member's other
  organizations; picking one exchanges the session, with the MFA step if it asks for one).

Codes, recovery codes and pasted links reach the kernel only in a page message, at submit time;
the intermediate session token (IST) never leaves the manager: nothing here reads it.

The CSS classes it adds to the contract in ``widget.py``:

=========================  =====================================================================
``stytch-org-slug``         signed out: the organization field (empty: discovery)
``stytch-send-link``        signed out: email a link (``stytch-send-code`` emails a code)
``stytch-orgs``             the organization picker; each ``stytch-org`` item holds a button
                            ``stytch-pick`` (its ``data-org`` is the organization's slug), notes
                            (``stytch-org-note``) and, with SSO, a ``stytch-sso`` button
``stytch-org-name``         the new organization's name; ``stytch-create-org`` creates it
``stytch-mfa``              the MFA step; ``stytch-mfa-code`` its code field, ``stytch-verify``
                            submits it; ``stytch-sms-send`` texts a code; ``stytch-use-totp``,
                            ``stytch-use-recovery`` choose another way
``stytch-start-over``       half-way: give up the sign-in (the IST is forgotten)
``stytch-switch``           signed in: list the organizations to switch to;
                            ``stytch-switch-cancel`` closes the list
``stytch-member``,          signed in: the member's name and the organization's name and slug
``stytch-organization``
=========================  =====================================================================
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..api.errors import StytchError
from ..session.b2b_namespaces import ORGANIZATION_ID_PREFIX
from ..session.errors import RedirectError
from ..session.redirect.links import parse_redirect
from . import reprs

if TYPE_CHECKING:
    from ..api.b2b_models import DiscoveredOrganization, Member, Organization
    from ..session.manager import SessionManager

Sent = Literal["", "code", "link"]
_ORIGIN = re.compile(r"https?://[^/?#\s]+")
MfaMethod = Literal["totp", "sms", "recovery"]

BUSY_LABELS = {
    "send_link": "Sending…",
    "pick": "Entering…",
    "create_org": "Creating…",
    "verify": "Verifying…",
    "sms_send": "Sending…",
    "switch": "Listing…",
    "switch_to": "Switching…",
    "start_over": "Starting over…",
    "sso": "Starting…",
}

PLAIN_B2B_ERRORS = {
    "intermediate_session_not_found": "That sign-in has expired (10 minutes). Start again.",
    "unable_to_auth_magic_link": "That link is used or has expired. Send a new one.",
    "magic_link_not_found": "That link is used or has expired. Send a new one.",
    "organization_not_found": "There is no organization by that name.",
    "member_not_found": "You are not a member of that organization.",
    "unable_to_auth_totp_code": "That code is wrong. Check your authenticator app and try again.",
    "totp_not_found": "No authenticator app is registered for you here: text a code instead.",
    "unable_to_auth_otp_code": "That code is wrong or has expired. Send a new one.",
    "unable_to_auth_recovery_code": "That recovery code is wrong or was already used.",
    "organization_slug_already_used": "That name is taken: choose another.",
    "email_jit_provisioning_not_allowed": "That organization does not let this email join.",
    "sso_connection_not_found": "That organization has no SSO connection.",
    "unable_to_auth_sso_or_oauth_token": "That SSO sign-in is used or has expired. Start again.",
    "sso_token_not_found": "That SSO sign-in is used or has expired. Start again.",
}

MEMBERSHIP_NOTES = {
    "pending_member": "pending",
    "invited_member": "invited",
    "eligible_to_join_by_email_domain": "can join (email domain)",
    "eligible_to_join_by_oauth_tenant": "can join",
}


class Runner(Protocol):
    """What the B2B part needs from its widget: run a request as the widget's busy action,
    refuse bad input with one line, say something, and render again."""

    def run(
        self,
        action: str,
        make: Callable[[], Coroutine[Any, Any, Any]],
        on_success: Callable[[Any], None] | None = None,
        *,
        focus: str = "",
        secret: str = "",
    ) -> None: ...

    def refuse(self, message: str, *, focus: str) -> None: ...

    def say(self, info: str) -> None: ...

    def fail(self, error: BaseException) -> None: ...

    def open_window(self, url: str) -> None: ...

    def refresh(self) -> None: ...

    def moved_on(self) -> None:
        """A new sign-in started: the last sign-out's reason is old news."""
        ...


@dataclass
class _Memory:
    """What the B2B part remembers between renders (no secret: codes are never kept)."""

    email: str = ""
    organization: str = ""  # the slug typed for a direct sign-in ("" = discovery)
    sent: Sent = ""  # what was last emailed
    sent_for: str = ""  # the organization it was sent for ("" = a discovery)
    switching: bool = False  # signed in: the organization list is open
    listed: tuple[DiscoveredOrganization, ...] = ()  # the last list for switching
    mfa: MfaMethod | None = None  # the way chosen for the MFA step
    sms_sent_to: str = ""  # where an MFA code was texted
    creation_allowed: bool | None = None  # None: not asked yet
    sso_for: str = ""  # the organization an SSO start is pending for


class B2BPart:
    """The B2B half of ``SessionWidget``: its view and its actions."""

    def __init__(self, manager: SessionManager, runner: Runner) -> None:
        self._manager = manager
        self._runner = runner
        self._memory = _Memory(organization=manager.config.organization)
        self._asking = threading.Lock()

    # ---- what the widget watches --------------------------------------------------------------

    WATCHED = ("member", "organization", "intermediate_session_token")

    def forget_attempt(self) -> None:
        """Signed in, or signed out: a sign-in's leftovers go (what was sent, the MFA way)."""
        memory = self._memory
        memory.sent, memory.sent_for, memory.mfa, memory.sms_sent_to = "", "", None, ""
        memory.sso_for = ""

    # ---- the view -----------------------------------------------------------------------------

    def signed_in(self, base: dict[str, Any]) -> None:
        """Add the member, the organization and "Switch organization" to a signed-in view."""
        manager, memory = self._manager, self._memory
        member: Member | None = manager.member
        organization: Organization | None = manager.organization
        self.forget_attempt()
        if member is not None:
            base["status"] = f"Signed in as {member.email_address}"
        rows: list[list[str]] = []
        if member is not None and member.name:
            rows.append(["member", member.name, "stytch-member"])
        if organization is not None:
            rows.append(["organization", org_label(organization), "stytch-organization"])
        base["rows"] = rows + list(base["rows"])
        actions = list(base["actions"])
        if memory.switching:
            current = organization.organization_id if organization is not None else ""
            items = [_item(found, current) for found in memory.listed]
            base["orgs"] = {
                "purpose": "switch",
                "title": "Switch to",
                "label": "Move the session to:",
                "items": items,
                "empty": "You belong to no other organization.",
            }
            actions.insert(2, _action("switch_cancel", "Cancel", "Close the list"))
        else:
            actions.insert(
                2,
                _action("switch", "Switch organization", "List your organizations and move there"),
            )
        base["actions"] = actions

    def signed_out(self, base: dict[str, Any]) -> None:
        """The discovery form (or a direct sign-in, with an organization), and the paste box."""
        memory = self._memory
        self._memory.switching = False
        step = "code" if memory.sent == "code" else "email"
        configured = self._manager.config.organization
        base["form"] = {
            "b2b": True,
            "step": step,
            "email": memory.email,
            "organization": memory.organization,
            "send_label": "Send a new code" if step == "code" else "Send code",
            "link_label": "Send a new link" if memory.sent == "link" else "Send link",
            "code_label": "Code from the email",
        }
        base["paste"] = True
        if configured and not configured.startswith(ORGANIZATION_ID_PREFIX):  # SSO starts by slug
            base["sso"] = {
                "id": configured,
                "label": "Continue with SSO",
                "title": f"Sign in to {configured} with its identity provider",
            }

    def needs_organization(self, base: dict[str, Any]) -> None:
        manager, memory = self._manager, self._memory
        discovered = _discovered(manager)
        base["status"] = "Choose an organization"
        who = self._discovery_email(discovered)
        items = [_item(found, "") for found in discovered]
        base["orgs"] = {
            "purpose": "pick",
            "title": "Enter",
            "label": f"Organizations for {who}" if who else "Your organizations",
            "items": items,
            "empty": f"{who or 'This email'} belongs to no organization yet.",
        }
        if memory.creation_allowed is None:
            self._ask_creation_allowed()
        if memory.creation_allowed:
            base["create"] = {"label": "Create organization", "placeholder": "new organization"}
        base["actions"] = [_start_over()]
        base["paste"] = memory.sso_for != ""  # an SSO start comes back through the paste box

    def needs_mfa(self, base: dict[str, Any]) -> None:
        manager, memory = self._manager, self._memory
        member: Member | None = manager.member
        organization: Organization | None = manager.organization
        where = organization.organization_name if organization is not None else "The organization"
        base["status"] = f"{where} asks for a second factor"
        has_totp = bool(member and member.totp_registration_id)
        phone = member.mfa_phone_number if member is not None else ""
        method = memory.mfa or ("sms" if memory.sms_sent_to else "totp" if has_totp else "sms")
        ways = []
        if method != "totp" and has_totp:
            ways.append(_action("use_totp", "Use my authenticator app", "A code from your app"))
        if method == "sms" and memory.sms_sent_to:
            ways.append(_action("sms_send", "Text me a new code", "Send another code"))
        elif method != "sms" and phone:
            ways.append(_action("sms_send", "Text me a code", "Send a code to your phone"))
        if method != "recovery" and has_totp:  # recovery codes come with an app's registration
            ways.append(
                _action("use_recovery", "Use a recovery code", "One of the codes you saved")
            )
        label = {
            "totp": "Code from your authenticator app",
            "sms": "Code from the text message",
            "recovery": "Recovery code",
        }[method]
        mfa: dict[str, Any] = {
            "method": method,
            "label": label,
            "code": method != "sms" or bool(memory.sms_sent_to),
            "send": method == "sms" and not memory.sms_sent_to and bool(phone),
            "ways": ways,
        }
        if method == "sms" and not memory.sms_sent_to and not phone:
            # Nothing to send a code to and no app: enrolment is a notebook's job (it returns
            # a secret, which the widget must never hold).
            mfa["hint"] = (
                "No second factor is set up for you yet: register an authenticator app in a "
                "cell with stytch.totp.create(), or ask an admin to add your phone."
            )
        elif method == "sms" and not memory.sms_sent_to:
            mfa["hint"] = f"A code will be texted to {phone}."
        elif method == "sms":
            mfa["hint"] = f"A code was texted to {memory.sms_sent_to}."
        base["mfa"] = mfa
        base["actions"] = [_start_over()]

    def _discovery_email(self, discovered: Sequence[DiscoveredOrganization]) -> str:
        if self._memory.email:
            return self._memory.email
        for found in discovered:
            if found.member is not None:
                return found.member.email_address
        return ""

    def _ask_creation_allowed(self) -> None:
        """Ask the project once (in the background) whether organizations may be created."""
        if not self._asking.acquire(blocking=False):
            return
        discovery = self._ns("discovery")

        async def ask() -> None:
            try:
                allowed = await discovery.creation_allowed_async()
            except Exception:  # offline: no button; asked again at the next render
                self._memory.creation_allowed = None
                self._asking.release()
                return
            self._memory.creation_allowed = bool(allowed)
            self._runner.refresh()  # the lock stays held: asked once

        try:
            self._manager.submit(ask())
        except Exception:
            self._asking.release()

    # ---- actions ------------------------------------------------------------------------------

    def actions(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "send_code": lambda m: self._send(m, "code"),
            "send_link": lambda m: self._send(m, "link"),
            "sign_in": self._sign_in,
            "paste": self._paste,
            "pick": self._pick,
            "create_org": self._create,
            "sso": self._sso,
            "verify": self._verify,
            "sms_send": self._sms_send,
            "use_totp": lambda m: self._use("totp"),
            "use_recovery": lambda m: self._use("recovery"),
            "start_over": self._start_over,
            "switch": self._switch,
            "switch_cancel": self._switch_cancel,
            "switch_to": self._switch_to,
        }

    def _ns(self, name: str) -> Any:
        # A B2B manager's namespaces (discovery, totp, …) are set when its kind is known, so
        # the type checker cannot see them.
        return getattr(self._manager, name)

    def _send(self, message: dict[str, Any], what: Sent) -> None:
        email = _text(message.get("email"))
        organization = _text(message.get("organization"))
        if not email:
            self._runner.refuse("Enter your email address first.", focus="email")
            return
        memory = self._memory
        memory.email, memory.organization = email, organization
        self._runner.moved_on()
        where = f" for {organization}" if organization else ""

        def sent(flow: Any) -> None:
            memory.sent, memory.sent_for = what, organization
            if what == "code":
                mailbox = reprs.mailbox_hint(self._manager.mailbox_url)
                self._runner.say(f"Code sent to {email}{where}{mailbox}")
                return
            # A link's redirect comes back to the kernel by itself where it can (the flow's
            # way back); the paste box is there for where it cannot.
            self._follow(flow)
            self._runner.say(f"Link sent to {email}{where}: open it{_open_hint(flow, 'opens')}.")

        if organization:
            ns = self._ns("otps" if what == "code" else "magic_links").email
            make = lambda: ns.login_or_signup_async(organization, email)  # noqa: E731
        else:
            ns = self._ns("otps" if what == "code" else "magic_links").email.discovery
            make = lambda: ns.send_async(email)  # noqa: E731
        action = "send_code" if what == "code" else "send_link"
        self._runner.run(action, make, sent, focus="code" if what == "code" else "paste")

    def _sign_in(self, message: dict[str, Any]) -> None:
        # The code arrives here, in a message, once: it is passed on and never kept.
        code = _text(message.get("code"))
        if not code:
            self._runner.refuse("Enter the code from the email.", focus="code")
            return
        memory = self._memory
        email, organization = memory.email, memory.sent_for
        otps = self._ns("otps").email
        if organization:
            make = lambda: otps.authenticate_async(organization, email, code)  # noqa: E731
        else:
            make = lambda: otps.discovery.authenticate_async(email, code)  # noqa: E731
        focus = "refresh" if organization else "pick"
        self._runner.run("sign_in", make, self._after, focus=focus, secret=code)

    def _paste(self, message: dict[str, Any]) -> None:
        link = _text(message.get("link"))
        if not link:
            self._runner.refuse("Paste the address the sign-in opened.", focus="paste")
            return
        try:
            redirect = parse_redirect(link)
        except RedirectError as exc:
            self._runner.refuse(f"{str(exc).capitalize()}.", focus="paste")
            return
        kind = redirect.token_type or self._expected_token_type()
        token = redirect.token
        if kind == "discovery":
            ns = self._ns("magic_links").discovery
            make = lambda: ns.authenticate_async(token)  # noqa: E731
        elif kind == "multi_tenant_magic_links":
            ns = self._ns("magic_links")
            make = lambda: ns.authenticate_async(token)  # noqa: E731
        elif kind == "sso":
            ns = self._ns("sso")
            make = lambda: ns.authenticate_async(token)  # noqa: E731
        else:
            self._runner.refuse(
                "That is not a link of this sign-in: paste the address an emailed link or "
                "the SSO sign-in opened.",
                focus="paste",
            )
            return
        focus = "pick" if kind == "discovery" else "refresh"
        self._runner.run("paste", make, self._after, focus=focus, secret=token)

    def _expected_token_type(self) -> str:
        memory = self._memory
        if memory.sso_for:
            return "sso"
        if memory.sent == "link":
            return "multi_tenant_magic_links" if memory.sent_for else "discovery"
        return ""

    def _pick(self, message: dict[str, Any]) -> None:
        found = self._find(message.get("id"), _discovered(self._manager))
        if found is None:
            return  # not an organization this widget showed
        exchange = self._ns("discovery").intermediate_sessions.exchange_async
        org_id = found.organization.organization_id
        self._runner.run("pick", lambda: exchange(org_id), self._after, focus="refresh")

    def _create(self, message: dict[str, Any]) -> None:
        name = _text(message.get("name"))
        if not name:
            self._runner.refuse("Enter a name for the new organization.", focus="org_name")
            return
        if not self._memory.creation_allowed:
            return  # not a button this widget showed
        create = self._ns("discovery").organizations.create_async
        self._runner.run("create_org", lambda: create(organization_name=name), self._after)

    def _sso(self, message: dict[str, Any]) -> None:
        wanted = message.get("id")
        slug = ""
        if self._manager.status == "needs_organization":
            found = self._find(wanted, _discovered(self._manager))
            if found is not None and found.organization.sso_active_connections:
                slug = found.organization.organization_slug
        elif self._manager.status == "signed_out" and wanted == self._manager.config.organization:
            slug = str(wanted)
        if not slug:
            return  # not a button this widget showed
        origin = message.get("origin")
        origin = origin if isinstance(origin, str) and _ORIGIN.fullmatch(origin) else None
        try:
            flow = self._ns("sso").start(organization_slug=slug, notebook_origin=origin)
        except (StytchError, ValueError) as exc:
            self._runner.fail(exc)
            return
        self._memory.sso_for = slug
        # The page opened a window at the click (a later open would be blocked): it goes there.
        self._runner.open_window(flow.url)
        self._runner.say(
            f"Sign in to {slug} in the window that opened{_open_hint(flow, 'lands on')}."
        )
        self._follow(flow)

    def _follow(self, flow: Any) -> None:
        """A redirect flow signs in by itself (its way back); only its failure needs telling."""

        def follow() -> None:
            try:
                flow.wait()
            except BaseException as exc:
                if flow.state != "cancelled":
                    self._runner.fail(exc)

        threading.Thread(target=follow, name="stytch-widget-b2b-redirect", daemon=True).start()

    def _verify(self, message: dict[str, Any]) -> None:
        code = _text(message.get("code"))
        memory = self._memory
        if not code:
            self._runner.refuse("Enter the code first.", focus="mfa_code")
            return
        member: Member | None = self._manager.member
        has_totp = bool(member and member.totp_registration_id)
        method = memory.mfa or ("sms" if memory.sms_sent_to else "totp" if has_totp else "sms")
        if method == "recovery":
            recover = self._ns("recovery_codes").recover_async
            make = lambda: recover(code)  # noqa: E731
        elif method == "sms":
            sms = self._ns("otps").sms.authenticate_async
            make = lambda: sms(code)  # noqa: E731
        else:
            totp = self._ns("totp").authenticate_async
            make = lambda: totp(code)  # noqa: E731
        self._runner.run("verify", make, self._after, focus="refresh", secret=code)

    def _sms_send(self, message: dict[str, Any]) -> None:
        memory = self._memory
        member: Member | None = self._manager.member
        phone = member.mfa_phone_number if member is not None else ""

        def sent(_: Any) -> None:
            memory.mfa = "sms"
            memory.sms_sent_to = phone or "your phone"

        self._runner.run(
            "sms_send", lambda: self._ns("otps").sms.send_async(), sent, focus="mfa_code"
        )

    def _use(self, method: MfaMethod) -> None:
        self._memory.mfa = method
        self._runner.refresh()

    def _start_over(self, message: dict[str, Any]) -> None:
        cancel = self._ns("discovery").cancel_async

        def done(_: Any) -> None:
            self.forget_attempt()
            self._runner.moved_on()

        self._runner.run("start_over", lambda: cancel(), done, focus="email")

    def _switch(self, message: dict[str, Any]) -> None:
        listing = self._ns("discovery").organizations.list_async
        memory = self._memory

        def listed(found: Any) -> None:
            memory.listed = tuple(found)
            memory.switching = True

        self._runner.run("switch", lambda: listing(), listed, focus="pick")

    def _switch_cancel(self, message: dict[str, Any]) -> None:
        self._memory.switching = False
        self._runner.refresh()

    def _switch_to(self, message: dict[str, Any]) -> None:
        memory = self._memory
        found = self._find(message.get("id"), memory.listed)
        current: Organization | None = self._manager.organization
        if found is None or not memory.switching:
            return
        if current is not None and found.organization.organization_id == current.organization_id:
            memory.switching = False
            self._runner.refresh()
            return
        exchange = self._ns("sessions").exchange_async
        org_id = found.organization.organization_id

        def switched(response: Any) -> None:
            memory.switching = False
            self._after(response)

        self._runner.run("switch_to", lambda: exchange(org_id), switched, focus="refresh")

    def _after(self, response: Any) -> None:
        """After a sign-in step: signed in, or what the organization asks for next."""
        memory = self._memory
        memory.sso_for = ""
        if getattr(response, "discovered_organizations", None) is not None:
            memory.sent, memory.sent_for = "", ""
            return  # a discovery: the picker shows what it found
        if getattr(response, "member_session", None) is not None:
            self.forget_attempt()
            return
        mfa = getattr(response, "mfa_required", None)
        organization = getattr(response, "organization", None)
        memory.mfa, memory.sms_sent_to = None, ""
        if mfa is not None:
            if mfa.secondary_auth_initiated == "sms_otp":
                memory.mfa, memory.sms_sent_to = "sms", mfa.mfa_phone_number or "your phone"
            return
        primary = getattr(response, "primary_required", None)
        if primary is not None and organization is not None:
            methods = ", ".join(m.replace("_", " ") for m in primary) or "another way"
            self._runner.say(
                f"{organization.organization_name} asks you to sign in with {methods}."
            )

    @staticmethod
    def _find(
        wanted: Any, found: Sequence[DiscoveredOrganization]
    ) -> DiscoveredOrganization | None:
        if not isinstance(wanted, str):
            return None
        for entry in found:
            org = entry.organization
            if wanted in (org.organization_id, org.organization_slug):
                return entry
        return None


# ---- small pieces ------------------------------------------------------------------------------


def _open_hint(flow: Any, verb: str) -> str:
    """What to do once the link is opened, by the way back the flow took."""
    route = getattr(getattr(flow, "route", None), "name", "paste")
    if route == "paste":
        return f", then paste the address it {verb} below"
    return f"; this widget goes on by itself (or paste the address it {verb} below)"


def org_label(organization: Organization) -> str:
    """``Acme (acme)``: the name a person knows, and the slug they type."""
    name, slug = organization.organization_name, organization.organization_slug
    return f"{name} ({slug})" if name and name != slug else slug


def _discovered(manager: SessionManager) -> tuple[DiscoveredOrganization, ...]:
    discovery = getattr(manager, "discovery", None)
    found = getattr(discovery, "discovered", ())
    return tuple(found)


def _item(found: DiscoveredOrganization, current: str) -> dict[str, Any]:
    org = found.organization
    notes = []
    if org.organization_id == current:
        notes.append("you are here")
    membership = MEMBERSHIP_NOTES.get(found.membership_type)
    if membership:
        notes.append(membership)
    if found.mfa_required is not None or org.requires_mfa:
        notes.append("MFA required")
    return {
        "id": org.organization_slug,
        "name": org.organization_name or org.organization_slug,
        "slug": org.organization_slug,
        "notes": notes,
        "current": org.organization_id == current,
        "sso": bool(org.sso_active_connections),
    }


def _action(action_id: str, label: str, title: str) -> dict[str, str]:
    return {"id": action_id, "label": label, "title": title}


def _start_over() -> dict[str, str]:
    return _action("start_over", "Start over", "Give up this sign-in and go back to the email form")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def plain_b2b_error(error_type: str) -> str | None:
    return PLAIN_B2B_ERRORS.get(error_type)
