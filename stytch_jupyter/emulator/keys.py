"""The RSA key that signs session JWTs, and the JWKS that publishes it.

Generating a 2048-bit key costs tens of milliseconds, so one key is made per process, on first
use, and shared by every emulator in it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class SigningKey:
    """An RS256 key with its ``kid`` and a self-signed certificate for the JWK's ``x5c``."""

    def __init__(self, private_key: rsa.RSAPrivateKey, kid: str) -> None:
        self.kid = kid
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self._certificate_der = self._self_signed_certificate()

    @classmethod
    def generate(cls) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private_key, kid=f"jwk-test-{uuid.uuid4()}")

    def _self_signed_certificate(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stytch-jupyter emulator")])
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self._private_key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.DER)

    def jwk(self) -> dict[str, Any]:
        numbers = self._public_key.public_numbers()
        thumbprint = hashlib.sha256(self._certificate_der).digest()
        return {
            "kty": "RSA",
            "use": "sig",
            "key_ops": ["verify"],
            "alg": "RS256",
            "kid": self.kid,
            "x5c": [base64.b64encode(self._certificate_der).decode("ascii")],
            "x5tS256": base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode("ascii"),
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }

    def mint(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self._private_key,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": "JWT"},
        )

    def verify_signature(self, token: str, audience: str, issuer: str) -> dict[str, Any]:
        """The claims of a JWT this key signed, checking everything but time.

        Times are the caller's business: the emulator's clock is not the wall clock.
        Raises ``jwt.InvalidTokenError`` for anything else.
        """
        if jwt.get_unverified_header(token).get("kid") != self.kid:
            raise jwt.InvalidTokenError("unknown kid")
        claims: dict[str, Any] = jwt.decode(
            token,
            self._public_key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["sub", "aud", "iss", "exp", "iat", "nbf"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        return claims


_shared_key: SigningKey | None = None
_shared_key_lock = threading.Lock()


def shared_signing_key() -> SigningKey:
    """The process-wide key, made on first use."""
    global _shared_key
    with _shared_key_lock:
        if _shared_key is None:
            _shared_key = SigningKey.generate()
        return _shared_key
