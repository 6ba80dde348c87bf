"""Which way back a redirect takes, decided at the start of a flow from facts, first that applies:
loopback (a local kernel), the Jupyter server's callback, the relay page, paste."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import RedirectRouteError
from ..locality import Locality, detect
from .mailbox import (
    HUB_ADDRESS_HINT,
    UNKNOWN_HUB_ADDRESS,
    server_callback_url,
    usable_mailbox,
)

RouteName = Literal["loopback", "server", "relay", "paste"]
ROUTES: tuple[RouteName, ...] = ("loopback", "server", "relay", "paste")


@dataclass(frozen=True)
class Route:
    name: RouteName
    reason: str
    callback_url: str | None = None  # where Stytch sends the browser, before ``?flow=…``
    mailbox: Path | None = None
    hint: str | None = None  # one line: what to set so that a better way back works here


def choose_route(
    requested: str,
    relay_url: str,
    *,
    environ: Mapping[str, str] | None = None,
    locality: Locality | None = None,
    origin: str | None = None,
    from_page: bool = False,
) -> Route:
    """The route for a new flow (``requested``: ``auto`` or a route name; ``origin``: the
    notebook page's, when known). ``from_page``: a preview for a page that will report its
    origin when the flow starts (the widget): a route that needs one counts, unaddressed."""
    import os

    env = os.environ if environ is None else environ
    where = locality if locality is not None else detect(env)
    mailbox, mailbox_reason = usable_mailbox(env)
    callback = server_callback_url(env, origin) if mailbox is not None else None
    hint = None
    if mailbox is not None and callback is None and not from_page:
        mailbox, mailbox_reason = None, UNKNOWN_HUB_ADDRESS
        hint = (
            "The redirect cannot come back to this kernel by itself, as this hub's public "
            f"address is unknown here: {HUB_ADDRESS_HINT}."
        )

    def server() -> Route:
        assert mailbox is not None
        return Route("server", mailbox_reason, callback, mailbox)

    if requested == "loopback":
        return Route("loopback", "asked for (Stytch.redirect_route)")
    if requested == "server":
        if mailbox is None:
            raise RedirectRouteError(f"no Jupyter server callback here: {mailbox_reason}")
        return server()
    if requested == "relay":
        if not relay_url:
            raise RedirectRouteError("no relay page: set Stytch.relay_url to where you host it")
        return Route("relay", "asked for (Stytch.redirect_route)", relay_url)
    if requested == "paste":
        return Route("paste", "asked for")
    if where.kind == "local":
        return Route("loopback", f"the kernel is local: {where.reason}")
    if mailbox is not None:
        return server()
    if relay_url:
        return Route("relay", f"the kernel is {where}; Stytch.relay_url is set", relay_url)
    if where.kind == "unknown":
        reason = f"the kernel may be local ({where.reason}); paste if not"
        return Route("loopback", reason, hint=hint)
    if hint is not None:
        return Route("paste", f"the kernel is {where} and {mailbox_reason}", hint=hint)
    return Route("paste", f"the kernel is {where} and no other way back is set up")
