"""``stytch.passwords``: sign in, create, check strength, and the three ways to reset a password.

Passwords (and reset tokens) are ``Secret`` from the moment a call receives them; they are
revealed only in the request that sends them. A reset by email runs PKCE as Stytch's SDKs do:
``reset_by_email_start`` sends the challenge and keeps the verifier in this object (in memory
only, never stored or shown); ``reset_by_email`` sends it with the link's token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.secret import Secret, secret_text
from .errors import NotSignedInError

if TYPE_CHECKING:
    from ..api.factor_models import PasswordStrength
    from ..api.models import AuthenticateResponse
    from .redirect.pkce import PkcePair
    from .runner import SessionOperations


def _require_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value.strip()


def _hidden(value: str | Secret) -> Secret | str:
    # Wrapped at once, before anything can fail (a verbose traceback shows Secret(<hidden>)).
    return Secret(value) if isinstance(value, str) else value


class Passwords:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations
        # The PKCE pair of the last reset_by_email_start: the verifier stays in this process.
        self._reset_pkce: PkcePair | None = None

    # -- sign in and create ------------------------------------------------------------------

    async def _authenticate(
        self, email: str, password: str | Secret, minutes: int | None
    ) -> AuthenticateResponse:
        email = _require_text(email, "email")
        secret = secret_text(password, "the password")
        duration = self._ops.duration(minutes)
        current = self._ops.current_token()
        return await self._ops.sign_in(
            lambda client: client.passwords_authenticate(
                email, secret, duration, session_token=current
            )
        )

    def authenticate(
        self, email: str, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        """Sign in with an email and password."""
        password = _hidden(password)
        return self._ops.run(self._authenticate(email, password, session_duration_minutes))

    async def authenticate_async(
        self, email: str, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        password = _hidden(password)
        return await self._ops.run_async(
            self._authenticate(email, password, session_duration_minutes)
        )

    async def _create(
        self, email: str, password: str | Secret, minutes: int | None
    ) -> AuthenticateResponse:
        email = _require_text(email, "email")
        secret = secret_text(password, "the password")
        duration = self._ops.duration(minutes)
        current = self._ops.current_token()
        return await self._ops.sign_in(
            lambda client: client.passwords_create(
                email, secret.reveal(), duration, session_token=current
            )
        )

    def create(
        self, email: str, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        """Create a user with this email and password, and sign in as them.

        Stytch refuses a weak password (``StytchAPIError``, ``weak_password``):
        ``strength_check`` says why."""
        password = _hidden(password)
        return self._ops.run(self._create(email, password, session_duration_minutes))

    async def create_async(
        self, email: str, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        password = _hidden(password)
        return await self._ops.run_async(self._create(email, password, session_duration_minutes))

    # -- strength ----------------------------------------------------------------------------

    async def _strength_check(self, password: str | Secret, email: str | None) -> PasswordStrength:
        secret = secret_text(password, "the password")
        email = None if email is None else _require_text(email, "email")
        return await self._ops.client().passwords_strength_check(secret.reveal(), email=email)

    def strength_check(self, password: str | Secret, email: str | None = None) -> PasswordStrength:
        """How Stytch judges ``password`` (for the user ``email``, if given): ``valid_password``,
        ``score``, ``breached_password``, and its feedback (``warning``, ``suggestions``)."""
        password = _hidden(password)
        return self._ops.run(self._strength_check(password, email))

    async def strength_check_async(
        self, password: str | Secret, email: str | None = None
    ) -> PasswordStrength:
        password = _hidden(password)
        return await self._ops.run_async(self._strength_check(password, email))

    # -- reset by email ----------------------------------------------------------------------

    async def _reset_start(
        self,
        email: str,
        reset_password_redirect_url: str | None,
        login_redirect_url: str | None,
        expiration_minutes: int | None,
    ) -> None:
        email = _require_text(email, "email")
        from .redirect.pkce import PkcePair  # on first use: not at %load_ext

        pkce = PkcePair()
        await self._ops.client().passwords_email_reset_start(
            email,
            reset_password_redirect_url=reset_password_redirect_url,
            login_redirect_url=login_redirect_url,
            reset_password_expiration_minutes=expiration_minutes,
            code_challenge=pkce.challenge,
        )
        self._reset_pkce = pkce  # the newest start wins, as in Stytch's SDKs

    def reset_by_email_start(
        self,
        email: str,
        *,
        reset_password_redirect_url: str | None = None,
        login_redirect_url: str | None = None,
        reset_password_expiration_minutes: int | None = None,
    ) -> None:
        """Email a password reset link (with a PKCE challenge; the verifier stays here).

        The link's ``token`` then goes to ``reset_by_email`` with the new password, in this
        process: a reset started elsewhere has no verifier here."""
        self._ops.run(
            self._reset_start(
                email,
                reset_password_redirect_url,
                login_redirect_url,
                reset_password_expiration_minutes,
            )
        )

    async def reset_by_email_start_async(
        self,
        email: str,
        *,
        reset_password_redirect_url: str | None = None,
        login_redirect_url: str | None = None,
        reset_password_expiration_minutes: int | None = None,
    ) -> None:
        await self._ops.run_async(
            self._reset_start(
                email,
                reset_password_redirect_url,
                login_redirect_url,
                reset_password_expiration_minutes,
            )
        )

    async def _reset(
        self,
        token: str | Secret,
        password: str | Secret,
        minutes: int | None,
        code_verifier: str | Secret | None,
    ) -> AuthenticateResponse:
        token = secret_text(token, "the reset token").strip()
        secret = secret_text(password, "the new password")
        duration = self._ops.duration(minutes)
        pkce = self._reset_pkce
        verifier = (
            secret_text(code_verifier, "code_verifier")
            if code_verifier is not None
            else (Secret(pkce.verifier) if pkce is not None else None)
        )
        current = self._ops.current_token()
        response = await self._ops.sign_in(
            lambda client: client.passwords_email_reset(
                token.reveal(),
                secret.reveal(),
                duration,
                code_verifier=None if verifier is None else verifier.reveal(),
                session_token=current,
            )
        )
        if self._reset_pkce is pkce:
            self._reset_pkce = None  # used: a second reset needs a new start
        return response

    def reset_by_email(
        self,
        token: str | Secret,
        password: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | Secret | None = None,
    ) -> AuthenticateResponse:
        """Set a new password with the ``token`` of a reset link, and sign in.

        The PKCE verifier of the last ``reset_by_email_start`` goes along (``code_verifier``
        overrides it). Refused (a weak password, an expired or used token): nothing changes
        here, and after a weak password the same link can be tried again."""
        token, password = _hidden(token), _hidden(password)
        verifier = None if code_verifier is None else _hidden(code_verifier)
        return self._ops.run(self._reset(token, password, session_duration_minutes, verifier))

    async def reset_by_email_async(
        self,
        token: str | Secret,
        password: str | Secret,
        session_duration_minutes: int | None = None,
        *,
        code_verifier: str | Secret | None = None,
    ) -> AuthenticateResponse:
        token, password = _hidden(token), _hidden(password)
        verifier = None if code_verifier is None else _hidden(code_verifier)
        return await self._ops.run_async(
            self._reset(token, password, session_duration_minutes, verifier)
        )

    # -- reset knowing the password, or from the session -------------------------------------

    async def _reset_existing(
        self,
        email: str,
        existing: str | Secret,
        new: str | Secret,
        minutes: int | None,
    ) -> AuthenticateResponse:
        email = _require_text(email, "email")
        old = secret_text(existing, "the existing password")
        secret = secret_text(new, "the new password")
        duration = self._ops.duration(minutes)
        return await self._ops.sign_in(
            lambda client: client.passwords_existing_password_reset(
                email, old.reveal(), secret.reveal(), duration
            )
        )

    def reset_by_existing_password(
        self,
        email: str,
        existing_password: str | Secret,
        new_password: str | Secret,
        session_duration_minutes: int | None = None,
    ) -> AuthenticateResponse:
        """Change the password of ``email`` knowing the current one, and sign in."""
        existing, new = _hidden(existing_password), _hidden(new_password)
        return self._ops.run(self._reset_existing(email, existing, new, session_duration_minutes))

    async def reset_by_existing_password_async(
        self,
        email: str,
        existing_password: str | Secret,
        new_password: str | Secret,
        session_duration_minutes: int | None = None,
    ) -> AuthenticateResponse:
        existing, new = _hidden(existing_password), _hidden(new_password)
        return await self._ops.run_async(
            self._reset_existing(email, existing, new, session_duration_minutes)
        )

    async def _reset_session(
        self, password: str | Secret, minutes: int | None
    ) -> AuthenticateResponse:
        secret = secret_text(password, "the new password")
        duration = self._ops.duration(minutes)
        token = self._ops.current_token()
        if token is None:
            raise NotSignedInError("not signed in: reset_by_session changes the signed-in user's")
        return await self._ops.sign_in(
            lambda client: client.passwords_session_reset(secret.reveal(), token, duration)
        )

    def reset_by_session(
        self, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        """Set a new password for the signed-in user (the session is kept)."""
        password = _hidden(password)
        return self._ops.run(self._reset_session(password, session_duration_minutes))

    async def reset_by_session_async(
        self, password: str | Secret, session_duration_minutes: int | None = None
    ) -> AuthenticateResponse:
        password = _hidden(password)
        return await self._ops.run_async(self._reset_session(password, session_duration_minutes))
