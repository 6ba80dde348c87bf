"""``EmulatorControl``: a small synchronous client for an emulator's control API.

Works with an emulator in this process (``Emulator.control``) or in another one (``stytch-jupyter
emulator``): give it the ``api_url`` that emulator printed.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from .defaults import CONTROL_PREFIX, DEFAULT_PROJECT_ID, DEFAULT_SECRET


class EmulatorControlError(RuntimeError):
    """The emulator refused a control request (the message is the emulator's own)."""

    def __init__(self, status_code: int, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type} ({status_code}): {error_message}")
        self.status_code = status_code
        self.error_type = error_type
        self.error_message = error_message


class EmulatorControl:
    def __init__(
        self,
        api_url: str,
        *,
        project_id: str = DEFAULT_PROJECT_ID,
        secret: str = DEFAULT_SECRET,
        timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.project_id = project_id
        # Never through a proxy from the environment: the emulator is on loopback. Over plain
        # http there is no certificate to check, and skipping the CA bundle saves ~25 ms a client.
        self._http = httpx.Client(
            base_url=self.api_url,
            timeout=timeout,
            trust_env=False,
            verify=self.api_url.startswith("https://"),
        )
        self._backend_auth = (project_id, secret)

    def __repr__(self) -> str:
        return f"EmulatorControl({self.api_url!r}, project_id={self.project_id!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise EmulatorControlError(
                response.status_code, "invalid_response", "The answer is not JSON: not an emulator?"
            ) from None
        if response.is_error:
            raise EmulatorControlError(
                response.status_code, body.get("error_type", ""), body.get("error_message", "")
            )
        return body

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, f"{CONTROL_PREFIX}/{path}", **kwargs)

    def outbox(
        self, email: str | None = None, *, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        """Emails and texts the emulator would have sent (to ``email`` or a phone number only,
        if given), oldest first unless ``newest_first``."""
        params = {"order": "newest" if newest_first else "oldest"}
        if email is not None:
            params["email"] = email
        messages: list[dict[str, Any]] = self._control("GET", "outbox", params=params)["messages"]
        return messages

    def issued(self) -> dict[str, list[str]]:
        """Every secret the emulator minted or received, by kind (for leak scans in tests)."""
        issued: dict[str, list[str]] = self._control("GET", "issued")
        return issued

    def _last(self, email: str, kind: str) -> dict[str, Any]:
        message: dict[str, Any]
        for message in reversed(self.outbox(email)):
            if message["kind"] == kind:
                return message
        raise LookupError(f"no {kind} email has been sent to {email}")

    def last_otp(self, email: str) -> tuple[str, str]:
        """``(method_id, code)`` of the latest passcode sent to ``email``."""
        message = self._last(email, "otp")
        return message["method_id"], message["code"]

    def last_sms_otp(self, phone_number: str) -> tuple[str, str]:
        """``(method_id, code)`` of the latest code texted to ``phone_number``."""
        message = self._last(phone_number, "sms_otp")
        return message["method_id"], message["code"]

    def last_password_reset(self, email: str) -> str:
        """The URL of the latest password reset link sent to ``email``."""
        url: str = self._last(email, "password_reset")["url"]
        return url

    def last_magic_link(self, email: str) -> str:
        """The URL of the latest magic link sent to ``email``."""
        url: str = self._last(email, "magic_link")["url"]
        return url

    def create_user(
        self,
        email: str,
        password: str | None = None,
        name: str | dict[str, str] | None = None,
    ) -> str:
        """Create an active user (with a password, for password sign-in); returns its user_id."""
        payload: dict[str, Any] = {"email": email}
        if password is not None:
            payload["password"] = password
        if name is not None:
            payload["name"] = name
        user_id: str = self._control("POST", "users", json=payload)["user_id"]
        return user_id

    def users(self) -> list[dict[str, Any]]:
        """Every user (Stytch's user object) with its live ``sessions``, oldest first."""
        users: list[dict[str, Any]] = self._control("GET", "users")["users"]
        return users

    # -- B2B projects ----------------------------------------------------------------------

    def create_organization(
        self,
        name: str,
        slug: str | None = None,
        *,
        email_allowed_domains: list[str] | None = None,
        email_jit_provisioning: str | None = None,
        allowed_auth_methods: list[str] | None = None,
        mfa_policy: str | None = None,
        allowed_mfa_methods: list[str] | None = None,
        sso_jit_provisioning: str | None = None,
        sso_connections: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a B2B organization; returns its Stytch ``Organization`` object.

        ``email_allowed_domains`` alone turns on JIT provisioning for them;
        ``allowed_auth_methods`` alone restricts sign-in to them; ``mfa_policy`` is
        ``OPTIONAL`` or ``REQUIRED_FOR_ALL``; ``sso_connections`` is a list of
        ``{"display_name": ..., "kind": "saml"|"oidc"}``.
        """
        payload: dict[str, Any] = {"organization_name": name}
        optional = {
            "organization_slug": slug,
            "email_allowed_domains": email_allowed_domains,
            "email_jit_provisioning": email_jit_provisioning,
            "allowed_auth_methods": allowed_auth_methods,
            "mfa_policy": mfa_policy,
            "allowed_mfa_methods": allowed_mfa_methods,
            "sso_jit_provisioning": sso_jit_provisioning,
            "sso_connections": sso_connections,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        organization: dict[str, Any] = self._control("POST", "b2b/organizations", json=payload)[
            "organization"
        ]
        return organization

    def organizations(self) -> list[dict[str, Any]]:
        """Every organization, each ``{organization_id, organization, members}``."""
        found: list[dict[str, Any]] = self._control("GET", "b2b/organizations")["organizations"]
        return found

    def add_sso_connection(
        self, organization: str, display_name: str = "", kind: str = "saml"
    ) -> str:
        """Add a SAML or OIDC connection (served by the emulator's identity provider)."""
        connection_id: str = self._control(
            "POST",
            f"b2b/organizations/{organization}/sso_connections",
            json={"display_name": display_name, "kind": kind},
        )["connection_id"]
        return connection_id

    def create_member(
        self,
        organization: str,
        email: str,
        *,
        name: str | None = None,
        status: str | None = None,
        password: str | None = None,
        mfa_phone_number: str | None = None,
        mfa_enrolled: bool | None = None,
        totp: bool | None = None,
        is_breakglass: bool | None = None,
    ) -> dict[str, Any]:
        """Add a member (``organization`` by id or slug); returns ``{member_id, member}`` plus
        ``totp_secret`` and ``recovery_codes`` when ``totp=True``."""
        payload: dict[str, Any] = {"email_address": email}
        optional = {
            "name": name,
            "status": status,
            "password": password,
            "mfa_phone_number": mfa_phone_number,
            "mfa_enrolled": mfa_enrolled,
            "totp": totp,
            "is_breakglass": is_breakglass,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        created: dict[str, Any] = self._control(
            "POST", f"b2b/organizations/{organization}/members", json=payload
        )
        return created

    def delete_member(self, organization: str, member_id: str) -> None:
        """Remove a member as an admin would: its sessions are revoked at once."""
        self._control("DELETE", f"b2b/organizations/{organization}/members/{member_id}")

    def revoke_member_session(
        self,
        *,
        session_token: str | None = None,
        member_session_id: str | None = None,
        session_jwt: str | None = None,
        member_id: str | None = None,
    ) -> None:
        """Revoke B2B sessions the way a backend does (``/v1/b2b/sessions/revoke``, with the
        secret): one session, or every session of ``member_id``."""
        given = {
            "session_token": session_token,
            "member_session_id": member_session_id,
            "session_jwt": session_jwt,
            "member_id": member_id,
        }
        payload = {k: v for k, v in given.items() if v is not None}
        self._call("POST", "/v1/b2b/sessions/revoke", json=payload, auth=self._backend_auth)

    def totp_code(self, organization: str, member_id: str) -> str:
        """The code the member's authenticator app shows now (on the emulator's clock)."""
        code: str = self._control(
            "GET", f"b2b/organizations/{organization}/members/{member_id}/totp_code"
        )["code"]
        return code

    def last_sms_code(self, phone_number: str) -> str:
        """The latest passcode texted to ``phone_number`` (B2B MFA has no method id)."""
        code: str | None = self._last(phone_number, "sms_otp")["code"]
        assert code is not None
        return code

    def complete_idp(
        self, start_url: str, email: str, *, name: str = "", approve: bool = True
    ) -> str:
        """Follow a B2B SSO or OAuth start URL through the emulator's identity provider, as
        a person would in the browser; returns the URL it redirects back to (with the token)."""
        started = self._http.get(start_url)
        if started.status_code != 302:
            raise EmulatorControlError(
                started.status_code,
                started.json().get("error_type", "") if started.content else "",
                "the start URL did not redirect to the identity provider",
            )
        consent = started.headers["location"]
        decision = "approve" if approve else "deny"
        answer = self._http.post(consent, data={"email": email, "name": name, "decision": decision})
        if answer.status_code != 303:
            body = answer.json()
            raise EmulatorControlError(
                answer.status_code, body.get("error_type", ""), body.get("error_message", "")
            )
        return answer.headers["location"]

    def advance_clock(self, seconds: float) -> datetime:
        """Move the emulator's clock forward; returns its new time (UTC)."""
        now: str = self._control("POST", "clock", json={"advance_seconds": seconds})["now"]
        return datetime.fromisoformat(now.replace("Z", "+00:00"))

    def add_fault(
        self,
        *,
        path_prefix: str = "",
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        latency_ms: float | None = None,
        drop: bool = False,
        times: int = 1,
    ) -> str:
        """Make the next ``times`` requests under ``path_prefix`` fail; returns the fault_id."""
        payload: dict[str, Any] = {"path_prefix": path_prefix, "drop": drop, "times": times}
        optional = {
            "status": status,
            "error_type": error_type,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        fault_id: str = self._control("POST", "faults", json=payload)["fault_id"]
        return fault_id

    def faults(self) -> list[dict[str, Any]]:
        """The faults still waiting to apply (``times`` is what is left), oldest first."""
        active: list[dict[str, Any]] = self._control("GET", "faults")["faults"]
        return active

    def oauth_consent(self, start_url: str, email: str | None) -> str:
        """Play the person at the consent page: open ``start_url`` (an OAuth start URL, as a
        browser would), approve as ``email`` (a new address signs up) or deny (None); returns
        the URL the browser is sent back to. Raises EmulatorControlError if the start is
        refused."""
        page = self._http.get(start_url)
        if page.is_error:
            body = page.json()
            raise EmulatorControlError(
                page.status_code, body.get("error_type", ""), body.get("error_message", "")
            )
        found = re.search(r'name="flow" value="([^"]+)"', page.text)
        if found is None:
            raise EmulatorControlError(page.status_code, "invalid_response", "no consent form")
        form = {"flow": html.unescape(found.group(1))}
        form.update(
            {"decision": "deny"} if email is None else {"decision": "approve", "email": email}
        )
        answer = self._http.post(f"{CONTROL_PREFIX}/oauth/consent", data=form)
        if answer.status_code != 303:
            body = answer.json()
            raise EmulatorControlError(
                answer.status_code, body.get("error_type", ""), body.get("error_message", "")
            )
        location: str = answer.headers["location"]
        return location

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def reset(self) -> None:
        """Forget every user, session, code, link, email and fault; put the clock back."""
        self._control("POST", "reset")

    def revoke_session(
        self,
        *,
        session_token: str | None = None,
        session_id: str | None = None,
        session_jwt: str | None = None,
    ) -> None:
        """Revoke a session the way a backend does: Stytch's backend API, with the secret."""
        payload = {
            k: v
            for k, v in {
                "session_token": session_token,
                "session_id": session_id,
                "session_jwt": session_jwt,
            }.items()
            if v is not None
        }
        self._call("POST", "/v1/sessions/revoke", json=payload, auth=self._backend_auth)
