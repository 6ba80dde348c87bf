"""The public call surface, shaped like Stytch's SDKs: ``stytch.sessions.authenticate()``,
``stytch.otps.email.login_or_create(email)``, … Each network call has an ``_async`` twin.

Passwords, TOTP and users have modules of their own (``passwords.py``, ``totps.py``,
``users.py``). These are thin: the work (and every state change) is in ``SessionManager``,
which they reach only through ``SessionOperations`` (``runner.py``). This is the consumer
vertical's surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.secret import Secret, secret_text
from .passwords import Passwords

if TYPE_CHECKING:
    from ..api.models import AuthenticateResponse, SessionTokens
    from .runner import SessionOperations


def _require_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value.strip()


def _check_tokens(tokens: SessionTokens) -> SessionTokens:
    from ..api.models import SessionTokens

    if not isinstance(tokens, SessionTokens):
        raise TypeError("update() takes SessionTokens(opaque=..., jwt=...)")
    return tokens


class Sessions:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    def authenticate(self, session_duration_minutes: int | None = None) -> AuthenticateResponse:
        """Check the session with Stytch; with a duration, also extend it to now + duration."""
        return self._ops.run(self._ops.authenticate(session_duration_minutes))

    async def authenticate_async(
        self, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        return await self._ops.run_async(self._ops.authenticate(session_duration_minutes))

    def revoke(self, force_clear: bool = False) -> None:
        """Revoke the session at Stytch and forget it here.

        If the request fails, the session is kept unless ``force_clear`` (or the server says
        the session is gone); the error is raised either way.
        """
        self._ops.run(self._ops.revoke(force_clear))

    async def revoke_async(self, force_clear: bool = False) -> None:
        await self._ops.run_async(self._ops.revoke(force_clear))

    def update(self, tokens: SessionTokens) -> AuthenticateResponse:
        """Adopt tokens obtained elsewhere, once Stytch has confirmed them.

        Checked first: if Stytch refuses them (or cannot be reached), the error is raised and
        the session held before (if any) stays, here and in the store.
        """
        return self._ops.run(self._ops.adopt(_check_tokens(tokens)))

    async def update_async(self, tokens: SessionTokens) -> AuthenticateResponse:
        return await self._ops.run_async(self._ops.adopt(_check_tokens(tokens)))


class OTPEmail:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    async def _send(self, email: str, expiration_minutes: int | None) -> str:
        email = _require_text(email, "email")
        method_id = await self._ops.client().otps_email_login_or_create(
            email, expiration_minutes=expiration_minutes, session_token=self._ops.current_token()
        )
        self._ops.last_method_id = method_id
        return method_id

    def login_or_create(self, email: str, expiration_minutes: int | None = None) -> str:
        """Email a one-time code; returns the ``method_id`` that ``otps.authenticate`` needs."""
        return self._ops.run(self._send(email, expiration_minutes))

    async def login_or_create_async(self, email: str, expiration_minutes: int | None = None) -> str:
        return await self._ops.run_async(self._send(email, expiration_minutes))


class OTPSms:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    async def _send(self, phone_number: str, expiration_minutes: int | None) -> str:
        phone_number = _require_text(phone_number, "phone_number")
        method_id = await self._ops.client().otps_sms_login_or_create(
            phone_number,
            expiration_minutes=expiration_minutes,
            session_token=self._ops.current_token(),
        )
        self._ops.last_method_id = method_id
        return method_id

    def login_or_create(self, phone_number: str, expiration_minutes: int | None = None) -> str:
        """Text a one-time code to an E.164 number (``+15551234567``); returns the
        ``method_id`` that ``otps.authenticate`` needs."""
        return self._ops.run(self._send(phone_number, expiration_minutes))

    async def login_or_create_async(
        self, phone_number: str, expiration_minutes: int | None = None
    ) -> str:
        return await self._ops.run_async(self._send(phone_number, expiration_minutes))


class OTPs:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations
        self.email = OTPEmail(operations)
        self.sms = OTPSms(operations)

    async def _authenticate(
        self, code: str | Secret, method_id: str | None, minutes: int | None
    ) -> AuthenticateResponse:
        code = secret_text(code, "the code").strip()
        method_id = method_id or self._ops.last_method_id
        if not method_id:
            raise ValueError(
                "no method_id: call otps.email.login_or_create(email) "
                "(or otps.sms.login_or_create(phone_number)) first"
            )
        duration = self._ops.duration(minutes)
        token = self._ops.current_token()
        return await self._ops.sign_in(
            lambda client: client.otps_authenticate(code, method_id, duration, session_token=token)
        )

    def authenticate(
        self,
        code: str | Secret,
        method_id: str | None = None,
        session_duration_minutes: int | None = None,
    ) -> AuthenticateResponse:
        """Sign in with the emailed code (``method_id`` defaults to the last one sent)."""
        code = Secret(code) if isinstance(code, str) else code  # before anything can fail
        return self._ops.run(self._authenticate(code, method_id, session_duration_minutes))

    async def authenticate_async(
        self,
        code: str | Secret,
        method_id: str | None = None,
        session_duration_minutes: int | None = None,
    ) -> AuthenticateResponse:
        code = Secret(code) if isinstance(code, str) else code
        return await self._ops.run_async(
            self._authenticate(code, method_id, session_duration_minutes)
        )


class MagicLinkEmail:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    async def _send(
        self,
        email: str,
        login_url: str | None,
        signup_url: str | None,
        code_challenge: str | None,
    ) -> None:
        email = _require_text(email, "email")
        await self._ops.client().magic_links_email_login_or_create(
            email,
            login_magic_link_url=login_url,
            signup_magic_link_url=signup_url,
            session_token=self._ops.current_token(),
            code_challenge=code_challenge,
        )

    def login_or_create(
        self,
        email: str,
        login_magic_link_url: str | None = None,
        signup_magic_link_url: str | None = None,
        *,
        code_challenge: str | None = None,
    ) -> None:
        """Email a sign-in link to ``login_magic_link_url`` (the signup URL for new users).

        ``stytch.redirect.start_magic_link(email)`` does this with PKCE and a way back."""
        self._ops.run(
            self._send(email, login_magic_link_url, signup_magic_link_url, code_challenge)
        )

    async def login_or_create_async(
        self,
        email: str,
        login_magic_link_url: str | None = None,
        signup_magic_link_url: str | None = None,
        *,
        code_challenge: str | None = None,
    ) -> None:
        await self._ops.run_async(
            self._send(email, login_magic_link_url, signup_magic_link_url, code_challenge)
        )


class MagicLinks:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations
        self.email = MagicLinkEmail(operations)

    async def _authenticate(
        self, token: str | Secret, minutes: int | None, code_verifier: str | Secret | None
    ) -> AuthenticateResponse:
        token = secret_text(token, "the magic link token").strip()
        duration = self._ops.duration(minutes)
        current = self._ops.current_token()
        return await self._ops.sign_in(
            lambda client: client.magic_links_authenticate(
                token, duration, session_token=current, code_verifier=code_verifier
            )
        )

    def authenticate(
        self,
        token: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | Secret | None = None,
    ) -> AuthenticateResponse:
        """Sign in with the ``token`` from a magic link (``code_verifier``: its PKCE verifier)."""
        token = Secret(token) if isinstance(token, str) else token  # before anything can fail
        return self._ops.run(self._authenticate(token, session_duration_minutes, code_verifier))

    async def authenticate_async(
        self,
        token: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | Secret | None = None,
    ) -> AuthenticateResponse:
        token = Secret(token) if isinstance(token, str) else token
        return await self._ops.run_async(
            self._authenticate(token, session_duration_minutes, code_verifier)
        )


__all__ = ["MagicLinks", "OTPEmail", "OTPSms", "OTPs", "Passwords", "Sessions"]
