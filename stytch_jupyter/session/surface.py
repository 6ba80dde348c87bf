"""Which names of the ``stytch`` object belong to one kind of project only.

Stytch's SDKs give a consumer project one client and a B2B project another; here one object
serves both, so it shows a project what applies to it and nothing else: a namespace of the
other kind is refused in one line that names what to use instead, and ``dir()`` (what tab
completion lists) leaves out the other kind's names, traits included.
"""

from __future__ import annotations

from collections.abc import Mapping

# Namespaces only one kind of project has, each with what the other kind uses instead.
CONSUMER_NAMESPACES: Mapping[str, str | None] = {
    "users": "stytch.member is the signed-in member (members are managed from your backend)",
    "totps": "use stytch.totp (and stytch.recovery_codes)",
}
B2B_NAMESPACES: Mapping[str, str | None] = {
    "discovery": "sign in directly, e.g. stytch.otps.email.login_or_create(email)",
    "sso": "use stytch.oauth for a social sign-in",
    "totp": "use stytch.totps",
    "recovery_codes": "use stytch.totps.recover(code)",
}
# Traits of one kind only: they stay readable (None), but are not offered.
CONSUMER_TRAITS = frozenset({"user"})
B2B_TRAITS = frozenset({"member", "member_session", "organization", "intermediate_session_token"})


def other_kinds_names(vertical: str) -> frozenset[str]:
    """What a project of ``vertical`` (a ``Vertical``'s name: ``consumer`` or ``b2b``) does not
    offer (left out of ``dir()``)."""
    if vertical == "b2b":
        return frozenset(CONSUMER_NAMESPACES) | CONSUMER_TRAITS
    return frozenset(B2B_NAMESPACES) | B2B_TRAITS


def refusal(name: str, vertical: str) -> str | None:
    """The one line for ``stytch.<name>`` in a project of ``vertical``, if the name belongs to
    the other kind of project; None if it is no name of ours."""
    b2b = vertical == "b2b"
    namespaces = CONSUMER_NAMESPACES if b2b else B2B_NAMESPACES
    if name not in namespaces:
        return None
    instead = namespaces[name]
    kinds = ("consumer", "B2B") if b2b else ("B2B", "consumer")
    line = f"stytch.{name} is for {kinds[0]} projects; this is a {kinds[1]} project"
    return f"{line}: {instead}" if instead else line
