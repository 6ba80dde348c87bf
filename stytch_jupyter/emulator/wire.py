"""Reading requests: JSON bodies with typed, Stytch-checked fields, and HTTP Basic credentials.

Anything malformed becomes a 400 with a message naming the field, never a 500.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.requests import Request

from . import errors
from .defaults import MAX_SESSION_MINUTES, MIN_SESSION_MINUTES
from .errors import EmulatorError, bad_request
from .state import Client

# The longest address SMTP carries (RFC 5321's path limit less the brackets). Checked before
# anything else looks at the text, so a huge "email" costs nothing.
MAX_EMAIL_LENGTH = 254
# Stytch's bodies are a few levels deep; metadata and custom claims a few more. Deeper is a
# mistake or an attack, refused before anything walks it.
MAX_JSON_DEPTH = 32


def is_email(value: str) -> bool:
    """Loose on purpose, and linear: one @, something either side, a dot in the domain, no
    spaces (a regex with two greedy runs went quadratic on long input)."""
    if len(value) > MAX_EMAIL_LENGTH or any(c.isspace() for c in value):
        return False
    local, at, domain = value.partition("@")
    if not at or not local or "@" in domain:
        return False
    return "." in domain[1:-1]  # a dot with something either side


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
        try:
            number = float(value)
        except OverflowError:
            raise bad_request(f"{name} is too large.") from None
        if not math.isfinite(number):
            raise bad_request(f"{name} must be a finite number.")
        return number

    def integer(self, name: str) -> int | None:
        value = self._get(name, False)
        if value is not None and not _is_int(value):
            raise bad_request(f"{name} must be an integer.")
        return cast("int | None", value)

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
        if not is_email(value):
            raise EmulatorError(400, errors.INVALID_EMAIL, f"{name} is not a valid email address.")
        return value

    def phone_number(self, name: str = "phone_number") -> str:
        """An E.164 number: ``+``, a country code, 7 to 15 digits in all."""
        value = self.required_string(name)
        digits = value[1:]
        if not (
            value.startswith("+")
            and 7 <= len(digits) <= 15
            and digits.isascii()
            and digits.isdigit()
            and digits[0] != "0"
        ):
            raise EmulatorError(
                400,
                errors.INVALID_PHONE_NUMBER,
                f"{name} must be in E.164 form, like +15555550123.",
            )
        return value

    def url(self, name: str) -> str | None:
        value = self.string(name)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
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


def _refuse_constant(name: str) -> Any:
    raise bad_request(f"The request body is not valid JSON: {name} is not a JSON number.")


def _check_tree(data: Any) -> None:
    """Refuse what JSON text can carry but nothing downstream can hold: nesting deeper than
    ``MAX_JSON_DEPTH``, numbers too large for a float (``1e400`` parses as infinity) and
    strings with lone surrogates (they cannot be encoded again)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise bad_request(f"The request body is nested deeper than {MAX_JSON_DEPTH}.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                pending.append((key, depth))
                pending.append((item, depth + 1))
        elif isinstance(value, float) and not math.isfinite(value):
            raise bad_request("The request body has a number too large to hold.")
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise bad_request(
                    "The request body has text that is not valid Unicode (a lone surrogate)."
                ) from None


def parse_body(raw: bytes) -> Body:
    """A POST body as a ``Body``; an empty body counts as ``{}``. Every refusal is a 400."""
    if not raw.strip():
        return Body({})
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise bad_request(f"The request body is nested deeper than {MAX_JSON_DEPTH}.") from None
    except ValueError:  # bad JSON or bad UTF-8, and integers over Python's 4,300 digits
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    _check_tree(data)
    return Body(data)


async def read_body(request: Request) -> Body:
    """The JSON object a POST carries; an empty body counts as ``{}``."""
    return parse_body(await request.body())


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (a non-ASCII byte included), or not UTF-8
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
