"""The relay page: one static HTML file a project owner hosts at a stable HTTPS address, for
kernels that no other way back reaches (Colab, a remote kernel without the server extension).

Register its address with Stytch as a redirect URL and set ``Stytch.relay_url`` to it. When a
redirect lands there, the page removes the token from the address bar at once, then:

- if a notebook window opened it (a popup) and named its origin (``origin=`` in the redirect
  URL), it posts ``{"type": "stytch-jupyter:redirect", "flow", "stytch_token_type", "token"}``
  to that window only (``postMessage`` with that exact target origin);
- and it shows the link for copying, to paste with ``%stytch login resume``.

It loads nothing from anywhere: one inline script and style, allowed by hash in a strict CSP.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

MESSAGE_TYPE = "stytch-jupyter:redirect"

_SCRIPT = """
(function () {
  var here = new URL(window.location.href);
  var q = here.searchParams;
  var token = q.get("token"), type = q.get("stytch_token_type"), flow = q.get("flow");
  var origin = q.get("origin");
  // First of all: the token leaves the address bar (and so the history and any bookmark).
  window.history.replaceState(null, "", here.pathname);
  var status = document.getElementById("status");
  if (!token) { status.textContent = "This address carries no sign-in token."; return; }
  var link = new URL(here.pathname, here.origin);
  if (flow) link.searchParams.set("flow", flow);
  if (type) link.searchParams.set("stytch_token_type", type);
  link.searchParams.set("token", token);
  var box = document.getElementById("link");
  box.value = link.href;
  document.getElementById("copy-area").hidden = false;
  document.getElementById("copy").addEventListener("click", function () {
    box.select();
    if (navigator.clipboard) navigator.clipboard.writeText(box.value);
    else document.execCommand("copy");
  });
  if (window.opener && origin && /^https?:\\/\\/[^\\/?#]+$/.test(origin)) {
    window.opener.postMessage(
      {type: "%(type)s", flow: flow, stytch_token_type: type, token: token}, origin);
    status.textContent = "Sent to your notebook. You can close this window.";
  } else {
    status.textContent = "Copy this link and paste it in the notebook (%%stytch login resume).";
  }
})();
""".replace("%(type)s", MESSAGE_TYPE).replace("%%", "%")

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}"
    "textarea{width:100%;height:6em;font-family:monospace}"
)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def relay_page_html() -> str:
    csp = (
        f"default-src 'none'; script-src '{_sha256(_SCRIPT)}'; style-src '{_sha256(_STYLE)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Stytch sign-in</title><style>{_STYLE}</style></head>
<body><h1>Stytch sign-in</h1><p id="status">Working…</p>
<div id="copy-area" hidden><textarea id="link" readonly></textarea>
<p><button id="copy" type="button">Copy</button></p></div>
<script>{_SCRIPT}</script></body></html>
"""


def write_relay_page(path: str | Path) -> Path:
    """Write the relay page to ``path`` (a file, or a folder to put ``index.html`` in)."""
    target = Path(path)
    if target.is_dir():
        target = target / "index.html"
    target.write_text(relay_page_html(), encoding="utf-8")
    return target
