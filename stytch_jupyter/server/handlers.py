"""``GET {base_url}stytch-jupyter/callback``: a redirect's token, handed to the waiting kernel.

Authenticated: only the server's own user reaches it (anyone else is sent to log in, or
refused). The page never shows the token, is never cached and sends no referrer; the server's
request log already scrubs ``token=`` from the URLs it writes.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from ..errors import RedirectError
from ..session.redirect.links import redirect_from_query
from ..session.redirect.mailbox import hand_over
from ..session.redirect.pages import PAGE_HEADERS, result_page


class CallbackHandler(JupyterHandler):
    def initialize(self, mailbox: str, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.mailbox = mailbox

    def set_default_headers(self) -> None:
        super().set_default_headers()
        for name, value in PAGE_HEADERS.items():
            self.set_header(name, value)

    @web.authenticated
    async def get(self) -> None:
        try:
            redirect = redirect_from_query(self.request.query)
        except RedirectError as exc:
            ok, message = False, f"{str(exc).capitalize()}."
        else:
            ok, message = await hand_over(self.mailbox, redirect)
        status, body = result_page(ok, message)
        self.set_status(status)
        self.finish(body)
