"""Setting the extension up in a running server: the mailbox, the kernels' environment, the
route."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from ..session.redirect.links import CALLBACK_PATH
from ..session.redirect.mailbox import CALLBACK_PATH_ENV, CALLBACK_URL_ENV, MAILBOX_ENV
from .handlers import CallbackHandler


def public_callback_url(
    environ: Mapping[str, str], connection_url: str, *, explicit: str | None = None
) -> str | None:
    """The address a browser is sent back to: set by an admin, JupyterHub's user-redirect, or
    this server's own URL. ``None`` under a hub that does not know its public address."""
    if explicit:
        return explicit
    hub = environ.get("JUPYTERHUB_PUBLIC_HUB_URL", "")
    if hub:
        # user-redirect sends each user to their own server: one URL for every user.
        return hub.rstrip("/") + "/user-redirect" + CALLBACK_PATH
    if environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        # The hub's public host (from public_url or subdomain_host), "" when it has neither.
        host = environ.get("JUPYTERHUB_HOST", "")
        return host.rstrip("/") + hub_callback_path(environ) if host else None
    return connection_url.rstrip("/") + CALLBACK_PATH


def hub_callback_path(environ: Mapping[str, str]) -> str:
    """The hub's ``user-redirect`` callback, as a path on the hub's public origin."""
    base = environ.get("JUPYTERHUB_BASE_URL", "/") or "/"
    return base.rstrip("/") + "/hub/user-redirect" + CALLBACK_PATH


def load(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    log = serverapp.log
    # mkdtemp makes it 0700: only this user can reach the sockets kernels open in it. Short,
    # under the temp dir: a Unix socket's path must stay under ~100 bytes.
    mailbox = tempfile.mkdtemp(prefix="sj-")
    atexit.register(shutil.rmtree, mailbox, ignore_errors=True)
    route = url_path_join(serverapp.base_url, CALLBACK_PATH.lstrip("/"))
    serverapp.web_app.add_handlers(".*$", [(route, CallbackHandler, {"mailbox": mailbox})])

    explicit = os.environ.get(CALLBACK_URL_ENV)
    url = public_callback_url(os.environ, serverapp.connection_url, explicit=explicit)
    # Kernels this server starts inherit its environment: that is how they find the mailbox.
    os.environ[MAILBOX_ENV] = mailbox
    if url is None:
        # The notebook page knows the origin the hub is reached at: a sign-in started from
        # it (the widget) completes the path; the others are told what to set.
        path = hub_callback_path(os.environ)
        os.environ[CALLBACK_PATH_ENV] = path
        log.warning(
            "stytch_jupyter.server: this hub's public address is unknown: sign-ins started "
            "from the widget come back at <the page's origin>%s; for the others, set "
            "c.JupyterHub.public_url or %s",
            path,
            CALLBACK_URL_ENV,
        )
        return
    os.environ[CALLBACK_URL_ENV] = url
    log.info("stytch_jupyter.server: sign-in redirects come back at %s", url)
