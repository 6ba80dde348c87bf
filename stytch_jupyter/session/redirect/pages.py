"""The small page a browser sees at the end of a redirect: no token, no scripts, no referrer."""

from __future__ import annotations

import html

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32em; margin: 4em auto;">
<h1>{title}</h1><p>{message}</p></body></html>
"""


def result_page(ok: bool, message: str) -> tuple[int, str]:
    """``(status, html)`` for the outcome of a sign-in redirect."""
    title = "You're signed in" if ok else "Not signed in"
    return (200 if ok else 400), _PAGE.format(title=title, message=html.escape(message))


def plain_page(status: int, title: str, message: str) -> tuple[int, str]:
    return status, _PAGE.format(title=html.escape(title), message=html.escape(message))
