"""``Secret``: a code, password or token held so that nothing that renders it shows it.

A secret is wrapped the moment it is read (a hidden prompt, an argument of the Python API) and
revealed only where it goes on the wire. What renders a frame's locals (``%xmode Verbose``, a
debugger, a crash report) then shows ``Secret(<hidden>)``; ``vars()`` shows nothing at all.
"""

from __future__ import annotations

from typing import Any


def redact(secret: str | None, keep: int = 6) -> str:
    """A short, recognisable prefix of a secret, never the whole thing."""
    if not secret:
        return "<none>"
    return f"{secret[:keep]}…" if len(secret) > keep else "…"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The raw string: call it only where the secret leaves for Stytch."""
        value: str = object.__getattribute__(self, "_value")
        return value

    def strip(self) -> Secret:
        return Secret(self.reveal().strip())

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __len__(self) -> int:
        return len(self.reveal())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self.reveal() == other.reveal()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self.reveal()))

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Secret cannot be changed")

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled (it would be written out whole)")


def reveal(value: str | Secret) -> str:
    """The raw string of ``value``, whether or not it was wrapped."""
    return value.reveal() if isinstance(value, Secret) else value


def secret_text(value: Any, what: str) -> Secret:
    """``value`` (a str or a Secret) as a non-empty Secret; ValueError otherwise."""
    if isinstance(value, Secret):
        secret = value
    elif isinstance(value, str):
        secret = Secret(value)
    else:
        raise ValueError(f"{what} must be a non-empty string")
    if not secret.reveal().strip():
        raise ValueError(f"{what} must be a non-empty string")
    return secret
