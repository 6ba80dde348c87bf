"""``stytch.totps``: an authenticator app as a second factor of the signed-in user.

What ``create`` returns holds the TOTP secret, its QR code and the recovery codes: shown once,
and only when asked for by name (``reveal_secret()``, ``reveal_recovery_codes()``,
``qr_code_image()``); its repr, str and ``vars()`` show none of them, and it cannot be pickled.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from ..api.secret import Secret, secret_text
from .errors import NotSignedInError

if TYPE_CHECKING:
    from ..api.factor_models import TOTPAuthenticateResponse, TOTPCreated, TOTPRecoveryCodes
    from ..api.models import User
    from .runner import SessionOperations

_PNG_DATA_URL = "data:image/png;base64,"


def _hidden(value: str | Secret) -> Secret | str:
    return Secret(value) if isinstance(value, str) else value


class RecoveryCodes:
    """One authenticator registration's unused recovery codes; ``reveal()`` gives them."""

    __slots__ = ("_codes", "totp_id", "verified")

    def __init__(self, totp_id: str, verified: bool, codes: Iterable[str]) -> None:
        self.totp_id = totp_id
        self.verified = verified
        self._codes = tuple(Secret(code) for code in codes)

    def reveal(self) -> tuple[str, ...]:
        """The codes themselves: each signs in once in place of the app (``totps.recover``)."""
        return tuple(code.reveal() for code in self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return (
            f"RecoveryCodes(totp_id={self.totp_id!r}, verified={self.verified}, "
            f"codes=<{len(self._codes)} hidden>)"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("recovery codes are not pickled (they would be written out whole)")


class QRCodeImage:
    """A PNG that IPython displays (``_repr_png_``), asked for by name; its repr is hidden.

    Plain Python, so the session layer needs nothing of IPython."""

    __slots__ = ("_png",)

    def __init__(self, png: bytes) -> None:
        self._png = png

    def _repr_png_(self) -> bytes:
        return self._png

    def __repr__(self) -> str:
        return "QRCodeImage(<hidden: it encodes a TOTP secret>)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a QR code of a TOTP secret is not pickled")


class TOTPEnrollment:
    """A new authenticator registration: scan ``qr_code_image()`` (or type ``reveal_secret()``)
    into the app, keep ``reveal_recovery_codes()`` somewhere safe, then ``totps.authenticate``
    with the app's first code to verify it.

    Displaying the QR code puts the TOTP secret in that cell's output: clear the output (it
    would be saved with the notebook) once the app has it."""

    __slots__ = ("_qr_code", "_recovery", "_secret", "totp_id", "user")

    def __init__(self, created: TOTPCreated) -> None:
        self.totp_id = created.totp_id
        self.user: User | None = created.user
        self._secret = Secret(created.secret)
        self._qr_code = Secret(created.qr_code)
        self._recovery = RecoveryCodes(created.totp_id, False, created.recovery_codes)

    def reveal_secret(self) -> str:
        """The base32 TOTP secret, for an app that cannot scan the QR code."""
        return self._secret.reveal()

    def reveal_recovery_codes(self) -> tuple[str, ...]:
        return self._recovery.reveal()

    def qr_code_data_url(self) -> str:
        """The QR code as a ``data:image/png;base64,…`` URL (it encodes the secret)."""
        return self._qr_code.reveal()

    def qr_code_png(self) -> bytes:
        """The QR code's PNG bytes; ValueError if Stytch sent something else."""
        url = self._qr_code.reveal()
        if not url.startswith(_PNG_DATA_URL):
            raise ValueError("the QR code is not a PNG data URL")
        try:
            return base64.b64decode(url[len(_PNG_DATA_URL) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the QR code's data URL is not valid base64") from None

    def qr_code_image(self) -> QRCodeImage:
        """The QR code as an image a notebook shows (the last line of a cell, or
        ``display(...)``). The output then holds the secret: clear it afterwards."""
        return QRCodeImage(self.qr_code_png())

    def __repr__(self) -> str:
        return (
            f"TOTPEnrollment(totp_id={self.totp_id!r}, secret=<hidden>, qr_code=<hidden>, "
            f"recovery_codes=<{len(self._recovery)} hidden>)"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a TOTP enrollment is not pickled (its secret would be written out)")


class TOTPs:
    def __init__(self, operations: SessionOperations) -> None:
        self._ops = operations

    def _session_token(self, what: str) -> str:
        token = self._ops.current_token()
        if token is None:
            raise NotSignedInError(
                f"not signed in: {what} needs a session (e.g. %stytch login otp --email …)"
            )
        return token

    async def _create(self, expiration_minutes: int | None) -> TOTPEnrollment:
        token = self._session_token("totps.create")
        created = await self._ops.client().totps_create(
            token, expiration_minutes=expiration_minutes
        )
        return TOTPEnrollment(created)

    def create(self, expiration_minutes: int | None = None) -> TOTPEnrollment:
        """Register an authenticator app for the signed-in user (unverified until its first
        code is authenticated, which must happen within ``expiration_minutes``)."""
        return self._ops.run(self._create(expiration_minutes))

    async def create_async(self, expiration_minutes: int | None = None) -> TOTPEnrollment:
        return await self._ops.run_async(self._create(expiration_minutes))

    async def _authenticate(
        self, code: str | Secret, minutes: int | None
    ) -> TOTPAuthenticateResponse:
        secret = secret_text(code, "the code").strip()
        token = self._session_token("totps.authenticate")
        duration = self._ops.duration(minutes)
        response = await self._ops.sign_in(
            lambda client: client.totps_authenticate(secret.reveal(), token, duration)
        )
        return cast("TOTPAuthenticateResponse", response)  # what totps_authenticate returns

    def authenticate(
        self, totp_code: str | Secret, session_duration_minutes: int | None = None
    ) -> TOTPAuthenticateResponse:
        """Add the authenticator app's current code to the session."""
        totp_code = _hidden(totp_code)
        return self._ops.run(self._authenticate(totp_code, session_duration_minutes))

    async def authenticate_async(
        self, totp_code: str | Secret, session_duration_minutes: int | None = None
    ) -> TOTPAuthenticateResponse:
        totp_code = _hidden(totp_code)
        return await self._ops.run_async(self._authenticate(totp_code, session_duration_minutes))

    async def _recover(self, code: str | Secret, minutes: int | None) -> TOTPAuthenticateResponse:
        secret = secret_text(code, "the recovery code").strip()
        token = self._session_token("totps.recover")
        duration = self._ops.duration(minutes)
        response = await self._ops.sign_in(
            lambda client: client.totps_recover(secret.reveal(), token, duration)
        )
        return cast("TOTPAuthenticateResponse", response)

    def recover(
        self, recovery_code: str | Secret, session_duration_minutes: int | None = None
    ) -> TOTPAuthenticateResponse:
        """Use a recovery code in place of the app's code (each code works once)."""
        recovery_code = _hidden(recovery_code)
        return self._ops.run(self._recover(recovery_code, session_duration_minutes))

    async def recover_async(
        self, recovery_code: str | Secret, session_duration_minutes: int | None = None
    ) -> TOTPAuthenticateResponse:
        recovery_code = _hidden(recovery_code)
        return await self._ops.run_async(self._recover(recovery_code, session_duration_minutes))

    async def _recovery_codes(self) -> tuple[RecoveryCodes, ...]:
        token = self._session_token("totps.recovery_codes")
        found: tuple[TOTPRecoveryCodes, ...] = await self._ops.client().totps_recovery_codes(token)
        return tuple(RecoveryCodes(i.totp_id, i.verified, i.recovery_codes) for i in found)

    def recovery_codes(self) -> tuple[RecoveryCodes, ...]:
        """The signed-in user's unused recovery codes, per registration (hidden until
        ``reveal()``)."""
        return self._ops.run(self._recovery_codes())

    async def recovery_codes_async(self) -> tuple[RecoveryCodes, ...]:
        return await self._ops.run_async(self._recovery_codes())
