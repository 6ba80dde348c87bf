"""Reading requests: JSON bodies with typed, Stytch-checked fields, and HTTP Basic credentials.

Anything malformed becomes a 400 with a message naming the field, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from . import errors
from .defaults import MAX_SESSION_MINUTES, MIN_SESSION_MINUTES
from .errors import EmulatorError, bad_request
from .state import Client

# Loose on purpose: one @, something either side, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Body:
    """A request's JSON object, read field by field."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def _get(self, name: str, required: bool) -> Any:
        value = self._data.get(name)
        if value is None and required:
            raise bad_request(f"{name} is required.")
        return value

    def raw(self, name: str) -> Any:
        """The field as sent, for callers that accept several shapes."""
        return self._data.get(name)

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string.")
        if required and not value:
            raise bad_request(f"{name} must not be empty.")
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        return value

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise bad_request(f"{name} must be a number.")
        return float(value)

    def integer(self, name: str) -> int | None:
        value = self._get(name, False)
        if value is not None and not _is_int(value):
            raise bad_request(f"{name} must be an integer.")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self._get(name, False)
        if value is not None and not isinstance(value, bool):
            raise bad_request(f"{name} must be true or false.")
        return value

    def object(self, name: str) -> dict[str, Any] | None:
        value = self._get(name, False)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"{name} must be a JSON object.")
        return value

    def email(self, name: str = "email") -> str:
        value = self.required_string(name)
        if not _EMAIL.match(value):
            raise EmulatorError(400, errors.INVALID_EMAIL, f"{name} is not a valid email address.")
        return value

    def url(self, name: str) -> str | None:
        value = self.string(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request(f"{name} must be an absolute http(s) URL.")
        return value

    def session_duration(self, name: str = "session_duration_minutes") -> int | None:
        value = self._data.get(name)
        if value is None:
            return None
        if not _is_int(value) or not MIN_SESSION_MINUTES <= value <= MAX_SESSION_MINUTES:
            raise EmulatorError(
                400,
                errors.INVALID_SESSION_DURATION,
                f"{name} must be an integer from {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES}.",
            )
        return int(value)

    def expiration(self, name: str, default: int, low: int, high: int) -> int:
        value = self._data.get(name)
        if value is None:
            return default
        if not _is_int(value) or not low <= value <= high:
            raise EmulatorError(
                400, errors.INVALID_EXPIRATION, f"{name} must be an integer from {low} to {high}."
            )
        return int(value)


async def read_body(request: Request) -> Body:
    """The JSON object a POST carries; an empty body counts as ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return Body({})
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return Body(data)


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def client_of(request: Request) -> Client:
    return Client(
        ip_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
