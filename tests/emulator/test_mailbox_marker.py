"""Every reply of the emulator names its mailbox page (``X-Stytch-Emulator-Mailbox: /``), which is
how a client knows, without a request of its own, that it talks to an emulator and where the
"sent" codes are: on successes, Stytch-shaped errors, CORS preflights and injected faults."""

from __future__ import annotations

import httpx

from stytch_jupyter.emulator import Emulator

HEADER = "x-stytch-emulator-mailbox"


def test_every_kind_of_reply_names_the_mailbox(emulator: Emulator) -> None:
    base = emulator.api_url
    with httpx.Client(base_url=base, timeout=10) as http:
        root = http.get("/")
        assert root.status_code == 200 and root.headers[HEADER] == "/"
        missing = http.post("/sdk/v1/nothing/here", json={})
        assert missing.status_code == 404 and missing.headers[HEADER] == "/"
        preflight = http.options(
            "/sdk/v1/otps/email/login_or_create",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200 and preflight.headers[HEADER] == "/"
        emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", status=503)
        faulted = http.post("/sdk/v1/sessions/authenticate", json={})
        assert faulted.status_code == 503 and faulted.headers[HEADER] == "/"
        assert len(faulted.headers.get_list(HEADER)) == 1
