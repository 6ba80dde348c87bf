"""The tests' ``$BROWSER``: what ``webbrowser.open(url)`` starts, in place of a person's browser.

``python fake_browser.py URL``. With neither variable below set it does nothing, so no test
ever opens a window on a developer's screen (tests/conftest.py points ``$BROWSER`` here).

- ``SJ_TEST_BROWSER_LOG``: a file to which each opened URL is appended, one line each, then
  what became of it (``landed STATUS PATH``; never the redirect's query, which holds a token).
- ``SJ_TEST_BROWSER_APPROVE_AS``: an email. The URL is followed over HTTP as a person would:
  the emulator's OAuth or SSO consent page, "Approve" as that user, then the redirect it sends the
  browser to (a kernel's loopback callback), whose page is read to the end.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

LOG_ENV = "SJ_TEST_BROWSER_LOG"
APPROVE_ENV = "SJ_TEST_BROWSER_APPROVE_AS"


def logged(log: str | os.PathLike[str]) -> list[str]:
    """The lines the stand-in browser wrote to ``log`` so far (none before it first ran)."""
    path = Path(log)
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def note(line: str) -> None:
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def follow(url: str, email: str) -> str:
    import httpx

    with httpx.Client(timeout=30.0, trust_env=False) as http:
        # A start URL answers the consent page itself (OAuth) or redirects to it (B2B SSO).
        page = http.get(url, follow_redirects=True)
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        if page.status_code != 200 or action is None:
            return f"no consent page ({page.status_code})"
        form = {"decision": "approve", "email": email}
        flow = re.search(r'name="flow" value="([^"]+)"', page.text)
        if flow is not None:
            form["flow"] = html.unescape(flow.group(1))
        answer = http.post(urljoin(str(page.url), html.unescape(action.group(1))), data=form)
        if answer.status_code != 303:
            return f"consent refused ({answer.status_code})"
        back = answer.headers["location"]
        landed = http.get(back)
        signed_in = "signed in" in landed.text.lower()
        return f"landed {landed.status_code} {urlsplit(back).path} signed_in={signed_in}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2
    url = argv[1]
    note(f"opened {url}")
    email = os.environ.get(APPROVE_ENV)
    if email:
        note(follow(url, email))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
