"""Redirect flows against the emulator over real HTTP: PKCE, the loopback way back, the server
mailbox handover, and every way a token is refused without changing anything."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager
from stytch_jupyter.session.redirect import (
    PkcePair,
    Redirect,
    RedirectError,
    RedirectRefusedError,
    challenge_for,
    parse_redirect,
)
from stytch_jupyter.session.redirect.loopback import open_listeners
from stytch_jupyter.session.redirect.mailbox import (
    CALLBACK_URL_ENV,
    MAILBOX_ENV,
    hand_over,
)
from tests.conftest import EMAIL
from tests.support import emulator_http as loopback
from tests.support.waiting import wait_for


@pytest.fixture
def make_manager(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**settings: Any) -> SessionManager:
        settings.setdefault("token_store", "memory")
        settings.setdefault("data_dir", str(tmp_path / "data"))
        settings.setdefault("timeout", 5.0)
        settings.setdefault("redirect_route", "loopback")
        config = Stytch(api_url=emulator.api_url, public_token=emulator.public_token, **settings)
        manager = SessionManager(config, store_poll_interval=0.1)
        made.append(manager)
        manager.start()
        return manager

    yield make
    for manager in made:
        manager.close()


def emailed_link(emulator: Emulator) -> str:
    wait_for(lambda: any(m["kind"] == "magic_link" for m in emulator.outbox(EMAIL)))
    return emulator.last_magic_link(EMAIL)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


# ---- PKCE -------------------------------------------------------------------------------------


def test_pkce_pair_is_s256_and_never_shows_its_verifier() -> None:
    pair = PkcePair()
    assert 43 <= len(pair.verifier) <= 128
    # RFC 7636 appendix B's example.
    assert challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    assert pair.challenge == challenge_for(pair.verifier)
    assert pair.verifier not in repr(pair) and pair.verifier not in str(pair)
    with pytest.raises(TypeError):
        pickle.dumps(pair)
    assert PkcePair().verifier != pair.verifier


def test_parse_redirect_reads_links_and_bare_tokens() -> None:
    link = parse_redirect(
        "http://127.0.0.1:1/stytch-jupyter/callback?flow=abcdefghijklmnopqrstuv"
        "&stytch_token_type=OAuth&token=tok-123"
    )
    assert (link.flow_id, link.token_type, link.token) == (
        "abcdefghijklmnopqrstuv",
        "oauth",
        "tok-123",
    )
    assert "tok-123" not in repr(link)
    assert parse_redirect("  tok-456 ") == Redirect("tok-456")
    for bad in [
        "",
        "http://x/?stytch_token_type=oauth",
        "two words",
        "http://x/?token=t&flow=../x",
    ]:
        with pytest.raises(RedirectError):
            parse_redirect(bad)


# ---- loopback: the whole flow over real HTTP --------------------------------------------------


def test_magic_link_over_loopback_with_pkce(make_manager, emulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    manager = make_manager()
    flow = manager.redirect.start_magic_link(EMAIL, session_duration_minutes=30)
    assert flow.route.name == "loopback" and flow.state == "pending"
    link = emailed_link(emulator)
    parts = urlsplit(link)
    assert (parts.scheme, parts.hostname, parts.path) == (
        "http",
        "127.0.0.1",
        "/stytch-jupyter/callback",
    )
    query = parse_qs(parts.query)
    assert query["flow"] == [flow.id] and query["stytch_token_type"] == ["magic_links"]

    page = loopback.get(link, timeout=30)
    assert page.status_code == 200 and "You're signed in" in page.text and EMAIL in page.text
    assert query["token"][0] not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    response = flow.wait(5)
    assert manager.status == "signed_in" and response.user.email == EMAIL
    assert flow.state == "signed_in" and manager.redirect.pending() == []
    wait_for(lambda: open_listeners() == 0)
    # The verifier went to Stytch and nowhere else.
    verifier = flow._pkce.verifier
    assert verifier not in repr(flow) and verifier not in caplog.text
    assert verifier not in repr(response)


def test_a_captured_token_is_refused_without_the_verifier_from_another_process(
    make_manager, emulator
) -> None:
    manager = make_manager()
    flow = manager.redirect.start_magic_link(EMAIL)
    link = emailed_link(emulator)
    token = parse_qs(urlsplit(link).query)["token"][0]
    # An eavesdropper with the token (say, from a proxy's log) but not the verifier.
    thief = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, httpx\n"
            "url, public, token = sys.argv[1:]\n"
            "r = httpx.post(url + '/sdk/v1/magic_links/authenticate', auth=(public, public),\n"
            "    json={'token': token, 'session_duration_minutes': 5})\n"
            "print(json.dumps({'status': r.status_code, 'body': r.json()}))\n",
            emulator.api_url,
            emulator.public_token,
            token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    stolen = json.loads(thief.stdout)
    assert stolen["status"] == 400 and stolen["body"]["error_type"].startswith("pkce")
    # The real redirect, with the kernel's verifier, still signs in.
    assert loopback.get(link, timeout=30).status_code == 200
    flow.wait(5)
    assert manager.status == "signed_in"


def test_wrong_flow_id_wrong_type_and_replay_are_refused_with_one_line(
    make_manager, emulator
) -> None:
    manager = make_manager()
    flow = manager.redirect.start_magic_link(EMAIL)
    link = emailed_link(emulator)

    wrong_flow = loopback.get(with_query(link, flow="x" * 22), timeout=30)
    assert wrong_flow.status_code == 400 and "no sign-in is waiting" in wrong_flow.text
    wrong_type = loopback.get(with_query(link, stytch_token_type="oauth"), timeout=30)
    assert wrong_type.status_code == 400
    assert "expects a magic link token, not an OAuth one" in wrong_type.text
    # Neither changed anything: the flow waits, nobody is signed in, the token is unused.
    assert flow.state == "pending" and manager.status == "signed_out"
    assert manager.redirect.pending() == [flow]

    assert loopback.get(link, timeout=30).status_code == 200
    flow.wait(5)
    token_before = manager.session_token
    # A replay: through the ways back and through a paste alike.
    with pytest.raises(RedirectRefusedError) as refused:
        manager.redirect.resume(link)
    assert "\n" not in str(refused.value) and "nothing changed" in str(refused.value)
    with pytest.raises(RedirectRefusedError):
        manager.redirect.complete(Redirect("other-token", "magic_links", "y" * 22))
    assert manager.session_token == token_before and manager.status == "signed_in"


def test_a_bare_pasted_token_finishes_the_one_pending_flow(make_manager, emulator) -> None:
    manager = make_manager(redirect_route="paste")
    flow = manager.redirect.start_magic_link(EMAIL)
    assert flow.route.name == "paste" and flow.redirect_url is None
    assert open_listeners() == 0
    link = emailed_link(emulator)
    assert link.startswith(emulator.api_url)  # the project's own redirect URL
    token = parse_qs(urlsplit(link).query)["token"][0]
    with pytest.raises(RedirectRefusedError, match="expects a magic link token, not an OAuth one"):
        manager.redirect.complete(Redirect(token, "oauth"))
    assert flow.state == "pending"
    manager.redirect.resume(token)
    assert manager.status == "signed_in" and flow.state == "signed_in"


def test_stytch_refusing_the_token_ends_the_flow_and_tells_the_browser(
    make_manager, emulator
) -> None:
    manager = make_manager()
    flow = manager.redirect.start_magic_link(EMAIL)
    link = emailed_link(emulator)
    emulator.add_fault(path_prefix="/sdk/v1/magic_links/authenticate", status=500)
    page = loopback.get(link, timeout=30)
    assert page.status_code == 400 and "Stytch did not accept" in page.text
    with pytest.raises(Exception) as failed:
        flow.wait(5)
    assert type(failed.value).__name__ == "StytchAPIError"
    assert flow.state == "failed" and manager.status == "signed_out"
    wait_for(lambda: open_listeners() == 0)


def test_a_new_flow_replaces_the_older_one_and_close_cancels_all(make_manager, emulator) -> None:
    manager = make_manager()
    first = manager.redirect.start_magic_link(EMAIL)
    second = manager.redirect.start_magic_link(EMAIL)
    assert first.state == "cancelled" and second.state == "pending"
    manager.close()
    assert second.state == "cancelled"
    wait_for(lambda: open_listeners() == 0)
    with pytest.raises(RedirectRefusedError):
        second.wait(1)


def test_a_flow_expires_and_closes_its_listener(make_manager, emulator) -> None:
    manager = make_manager(redirect_timeout=0.5)
    flow = manager.redirect.start_magic_link(EMAIL)
    with pytest.raises(TimeoutError):
        flow.wait(10)
    assert flow.state == "expired"
    wait_for(lambda: open_listeners() == 0)
    with pytest.raises(httpx.ConnectError):
        loopback.get(emailed_link(emulator), timeout=5)


async def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # blocks the session loop itself: nothing else runs there meanwhile


def test_a_wait_that_expires_returns_once_the_listener_is_closed(make_manager) -> None:
    manager = make_manager(redirect_timeout=0.3)
    flow = manager.redirect.start_magic_link(EMAIL)
    # The session loop is busy as the deadline passes, so the listener (which serves there)
    # closes only once it is free: the wait must not return before that.
    manager.submit(_hold_the_loop(flow.expires_in + 0.3))
    with pytest.raises(TimeoutError):
        flow.wait()
    assert flow.state == "expired"
    assert open_listeners() == 0


def test_oauth_start_url_carries_the_challenge_never_the_verifier(make_manager, emulator) -> None:
    manager = make_manager()
    flow = manager.oauth.start(
        "google", scopes=["email", "profile"], provider_params={"prompt": "select_account"}
    )
    url = urlsplit(flow.url or "")
    assert url.path == "/v1/public/oauth/google/start"
    query = parse_qs(url.query)
    assert query["public_token"] == [emulator.public_token]
    assert query["code_challenge"] == [flow.code_challenge]
    assert query["custom_scopes"] == ["email profile"]
    assert query["provider_prompt"] == ["select_account"]
    redirect = urlsplit(query["login_redirect_url"][0])
    assert redirect.path == "/stytch-jupyter/callback"
    assert parse_qs(redirect.query)["flow"] == [flow.id]
    assert flow._pkce.verifier not in (flow.url or "")
    # A magic-link token sent to an OAuth flow is refused.
    with pytest.raises(RedirectRefusedError, match="expects an OAuth token, not a magic link one"):
        manager.redirect.complete(Redirect("t" * 20, "magic_links", flow.id))
    assert flow.state == "pending"


# ---- the server's mailbox -----------------------------------------------------------------------


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Short path: a Unix socket's path must stay under ~100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="sj-mb-"))
    monkeypatch.setenv(MAILBOX_ENV, str(folder))
    monkeypatch.setenv(
        CALLBACK_URL_ENV, "http://127.0.0.1:1/hub/user-redirect/stytch-jupyter/callback"
    )
    yield folder
    for item in folder.iterdir():
        item.unlink()
    folder.rmdir()


def test_the_server_route_hands_the_token_over_through_the_mailbox(
    make_manager, emulator, mailbox
) -> None:
    manager = make_manager(redirect_route="auto")
    os.environ["STYTCH_JUPYTER_REMOTE"] = "1"  # a kernel behind a hub
    try:
        flow = manager.redirect.start_magic_link(EMAIL)
    finally:
        del os.environ["STYTCH_JUPYTER_REMOTE"]
    assert flow.route.name == "server" and open_listeners() == 0
    link = emailed_link(emulator)
    assert link.startswith("http://127.0.0.1:1/hub/user-redirect/stytch-jupyter/callback?")
    sock = mailbox / f"{flow.id}.sock"
    assert sock.exists() and oct(sock.stat().st_mode & 0o777) == "0o600"
    redirect = parse_redirect(link)

    refused = asyncio.run(hand_over(mailbox, Redirect(redirect.token, "oauth", flow.id)))
    assert refused[0] is False and "expects a magic link token" in refused[1]
    elsewhere = asyncio.run(hand_over(mailbox, Redirect(redirect.token, "magic_links", "z" * 22)))
    assert elsewhere[0] is False and "No sign-in is waiting" in elsewhere[1]
    assert flow.state == "pending"

    ok, message = asyncio.run(hand_over(mailbox, redirect))
    assert ok and EMAIL in message
    flow.wait(5)
    assert manager.status == "signed_in"
    wait_for(lambda: not sock.exists())
    replay = asyncio.run(hand_over(mailbox, redirect))
    assert replay[0] is False


def test_a_mailbox_others_can_write_to_is_not_used(make_manager, mailbox) -> None:
    mailbox.chmod(0o777)
    manager = make_manager(redirect_route="server")
    from stytch_jupyter.session.redirect import RedirectRouteError

    with pytest.raises(RedirectRouteError, match="not a private directory"):
        manager.redirect.start_magic_link(EMAIL)
    assert manager.redirect.pending() == []
