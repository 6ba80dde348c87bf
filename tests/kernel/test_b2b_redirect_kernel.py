"""B2B in real kernels (jupyter_client), the emulator over loopback: MFA by TOTP and by SMS (codes
from the emulator, answered at the hidden prompt), ``%stytch switch`` between an organization and
one that requires MFA, SSO through the emulator's identity provider back to the kernel's
loopback listener, a member removed at Stytch signed out by the heartbeat while a cell sleeps,
a discovery that expires on Stytch's clock, and two kernels on one store following one another
through a discovery, an exchange and a sign-out. Each ends with a secret scan of what its cells
showed: IST, codes, TOTP secret, recovery codes, link and SSO tokens, session tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from stytch_jupyter.emulator import Emulator
from stytch_jupyter.emulator.totp import code_at, step_of
from tests.support.kernel_cells import Cell, Running, execute
from tests.support.kernels import KERNEL_START_TIMEOUT, KernelHome, kernel_env, kernel_manager
from tests.support.secret_scan import assert_no_secrets

pytestmark = pytest.mark.kernel

EMAIL = "ada@acme.test"
PASSWORD = "correct horse battery staple"
PHONE = "+15555550100"
SETUP = "%load_ext stytch_jupyter\n%xmode Verbose"
# A cell that waits (in the kernel, in short sleeps) for the status to become ``want``.
AWAIT_STATUS = """
import time as _time
_deadline = _time.monotonic() + 30
while stytch.status != {want!r} and _time.monotonic() < _deadline:
    _time.sleep(0.05)
print("status:", stytch.status)
"""


@pytest.fixture
def b2b() -> Iterator[Emulator]:
    with Emulator(vertical="b2b") as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> KernelHome:
    return KernelHome(tmp_path).create()


@pytest.fixture
def start_kernel(
    b2b: Emulator, home: KernelHome, tmp_path: Path
) -> Iterator[Callable[[str], BlockingKernelClient]]:
    """Kernels of one user: one home, so one token store."""
    started: list[tuple[KernelManager, BlockingKernelClient]] = []

    def start(name: str) -> BlockingKernelClient:
        manager = kernel_manager(home, name)
        with (tmp_path / f"{name}.log").open("wb") as log:
            manager.start_kernel(
                env=kernel_env(home, b2b.api_url, b2b.public_token), stdout=log, stderr=log
            )
        client = manager.client()
        client.start_channels()
        started.append((manager, client))
        client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        ok(client, SETUP)
        return client

    yield start
    for manager, client in started:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def ok(client: BlockingKernelClient, code: str, answers: list[Any] | None = None) -> Cell:
    cell = execute(client, code, answerer(client, answers) if answers is not None else None)
    assert cell.error is None, cell.text
    return cell


def answerer(
    client: BlockingKernelClient, answers: list[Any], asked: list[str] | None = None
) -> Callable[[dict[str, Any]], None]:
    """Answer each prompt from ``answers`` (a value, or a function called then); record it."""

    def on_input(request: dict[str, Any]) -> None:
        if asked is not None:
            asked.append(request["prompt"])
        answer = answers.pop(0)
        client.input(answer() if callable(answer) else answer)

    return on_input


def totp_now(secret: str) -> str:
    """What an authenticator app shows now (the emulator's clock is not moved in these tests)."""
    return code_at(secret, step_of(datetime.now(timezone.utc)))


def grab(client: BlockingKernelClient, expression: str) -> str:
    """A secret's value for the scan, read in a cell whose output is left out of it."""
    return execute(client, f"print({expression})").text.strip()


def test_totp_mfa_on_switching_to_an_organization_that_requires_it(start_kernel, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("acme", EMAIL, password=PASSWORD)
    member = b2b.create_member("vault", EMAIL, password=PASSWORD, totp=True)
    secret = member["totp_secret"]
    right = totp_now(secret)
    wrong = "000000" if right != "000000" else "111111"
    client = start_kernel("totp")
    asked: list[str] = []
    answers: list[Any] = [PASSWORD]
    shown = [ok_asked(client, f"%stytch login password --email {EMAIL} --org acme", answers, asked)]
    assert f"Signed in as {EMAIL} in acme" in shown[0].text

    answers.append(wrong)  # the switch asks for the authenticator's code; a wrong one fails
    failed = execute(client, "%stytch switch vault", answerer(client, answers, asked))
    assert failed.error is not None and "Traceback" not in failed.text
    assert "vault requires MFA." in failed.text
    shown.append(failed)
    half_way = ok(client, "print(stytch.status, stytch.organization.organization_slug)")
    assert half_way.text.split() == ["needs_mfa", "vault"]
    ist = grab(client, "stytch.intermediate_session_token.value")

    used: list[str] = []
    answers.append(lambda: used.append(totp_now(secret)) or used[-1])
    passed = ok_asked(client, "%stytch mfa totp", answers, asked)
    assert f"Signed in as {EMAIL} in vault" in passed.text
    factors = ok(
        client, "print(sorted(f.type for f in stytch.member_session.authentication_factors))"
    )
    assert "totp" in factors.text
    back = ok_asked(client, "%stytch switch acme", answers, asked)  # no MFA there
    assert f"Signed in as {EMAIL} in acme" in back.text
    shown += [half_way, passed, factors, back]
    assert asked == [
        f"Password for {EMAIL}: ",
        "Code from your authenticator app: ",
        "Code from your authenticator app: ",
    ]
    scan(
        client,
        shown,
        {
            "ist": ist,
            "password": PASSWORD,
            "wrong code": wrong,
            "totp code": used[0],
            "totp secret": secret,
            **{f"recovery code {i}": c for i, c in enumerate(member["recovery_codes"])},
        },
    )


def test_sms_mfa_a_wrong_code_then_mfa_sms(start_kernel, b2b) -> None:
    b2b.create_organization("Vault", "vault", mfa_policy="REQUIRED_FOR_ALL")
    b2b.create_member("vault", EMAIL, password=PASSWORD, mfa_phone_number=PHONE)
    client = start_kernel("sms")
    asked: list[str] = []
    codes: list[str] = []

    def texted() -> str:
        codes.append(b2b.last_sms_code(PHONE))
        return codes[-1]

    answers: list[Any] = [PASSWORD, lambda: "000000" if texted() != "000000" else "111111"]
    first = execute(
        client,
        f"%stytch login password --email {EMAIL} --org vault",
        answerer(client, answers, asked),
    )
    assert first.error is not None and "Traceback" not in first.text
    assert f"vault requires MFA: a code was texted to {PHONE}." in first.text
    ist = grab(client, "stytch.intermediate_session_token.value")
    answers.append(texted)
    second = ok_asked(client, "%stytch mfa sms", answers, asked)
    assert f"Sent a code to {PHONE}." in second.text
    status = ok(client, "print(stytch.status, stytch.member.mfa_phone_number_verified)")
    assert status.text.split() == ["signed_in", "True"]
    assert asked == [f"Password for {EMAIL}: ", "Code from the text: ", "Code from the text: "]
    assert len(set(codes)) == 2  # a new code was texted for %stytch mfa sms
    scan(
        client,
        [first, second, status],
        {"ist": ist, "password": PASSWORD, **{f"sms code {i}": c for i, c in enumerate(codes)}},
    )


def test_sso_by_loopback_through_the_emulators_identity_provider(start_kernel, b2b) -> None:
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "saml"}])
    client = start_kernel("sso")
    running = Running(client, "%stytch login sso --org acme")
    text = running.wait_for("this cell waits")
    [start] = [word for word in text.split() if word.startswith(b2b.api_url)]
    assert "pkce_code_challenge=" in start
    back = b2b.complete_idp(start, EMAIL)  # the person approves at the consent page
    query = parse_qs(urlsplit(back).query)
    assert back.startswith("http://127.0.0.1:") and query["stytch_token_type"] == ["sso"]
    with httpx.Client(trust_env=False, timeout=30) as http:
        page = http.get(back)
        assert page.status_code == 200 and "signed in" in page.text.lower()
        assert query["token"][0] not in page.text
    cell = running.result()
    assert cell.error is None, cell.text
    assert f"Signed in as {EMAIL} in acme" in cell.text
    factor = ok(client, "print(stytch.member_session.authentication_factors[0].type)")
    assert factor.text.strip() == "sso"
    # The listener is gone: the same redirect again reaches nothing.
    with httpx.Client(trust_env=False, timeout=5) as http, pytest.raises(httpx.ConnectError):
        http.get(back)
    scan(client, [cell, factor], {"sso token": query["token"][0]})


def test_a_member_removed_at_stytch_is_signed_out_while_a_cell_sleeps(start_kernel, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    member = b2b.create_member("acme", EMAIL, password=PASSWORD)
    client = start_kernel("removed")
    signed_in = ok(
        client,
        "%config Stytch.heartbeat_interval = 0.5\n"
        f"%stytch login password --email {EMAIL} --org acme",
        [PASSWORD],
    )
    watching = (
        "import time\n"
        "seen = []\n"
        "stytch.observe(lambda change: seen.append(change['new']), names='status')\n"
        "print('sleeping', stytch.status, flush=True)\n"
        "_deadline = time.monotonic() + 30\n"
        "while stytch.status == 'signed_in' and time.monotonic() < _deadline:\n"
        "    time.sleep(0.5)\n"
        "print('woke', stytch.status, seen, stytch.signed_out_reason)\n"
    )
    running = Running(client, watching)
    running.wait_for("sleeping signed_in")
    b2b.delete_member("acme", member["member_id"])  # an admin removes the member
    cell = running.result()
    assert cell.error is None, cell.text
    woke = cell.text.split("woke", 1)[1]
    assert woke.split()[0] == "signed_out" and "'signed_out'" in woke, cell.text
    assert "ended by Stytch" in woke
    scan(client, [signed_in, cell], {"password": PASSWORD})


def open_discovery(client: BlockingKernelClient, b2b: Emulator) -> Cell:
    """A discovery started in ``client``, its link opened on this machine (loopback)."""
    started = ok(
        client,
        "assert stytch.wait_for_vertical(10)\n"  # "auto": the bootstrap says B2B
        f"_flow = stytch.magic_links.email.discovery.send({EMAIL!r})",
    )
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.get(b2b.last_magic_link(EMAIL)).status_code == 200
    return started


def test_a_discovery_expired_on_stytchs_clock_is_one_line_and_leaves_the_store(
    start_kernel, b2b, home
) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    client = start_kernel("expiry")
    started = open_discovery(client, b2b)
    waited = ok(client, AWAIT_STATUS.format(want="needs_organization"))
    assert "status: needs_organization" in waited.text
    [slot] = home.data_dir.rglob("*.ist")
    ist = grab(client, "stytch.intermediate_session_token.value")
    b2b.control.advance_clock(10 * 60 + 1)  # the IST's 10 minutes pass at Stytch
    expired = execute(client, "%stytch switch acme")
    assert expired.error is not None
    lines = [line for line in expired.text.splitlines() if line.strip()]
    assert lines == [
        "StytchAPIError: the discovery expired (a sign-in half-way lasts 10 minutes) or "
        "was used: start again with %stytch login discovery --email E"
    ], expired.text
    after = ok(client, "print(stytch.status, stytch.intermediate_session_token)")
    assert after.text.split() == ["signed_out", "None"]
    assert not slot.exists()
    scan(
        client, [started, waited, expired, after], {"ist": ist, "link": b2b.last_magic_link(EMAIL)}
    )


def test_two_kernels_converge_on_a_b2b_sign_in_and_sign_out(start_kernel, b2b) -> None:
    b2b.create_organization("Acme", "acme")
    b2b.create_member("acme", EMAIL)
    first, second = start_kernel("first"), start_kernel("second")
    shown = [open_discovery(first, b2b)]
    shown.append(ok(second, AWAIT_STATUS.format(want="needs_organization")))
    assert "status: needs_organization" in shown[-1].text
    ist = grab(second, "stytch.intermediate_session_token.value")
    assert grab(first, "stytch.intermediate_session_token.value") == ist

    shown.append(ok(second, "%stytch switch acme"))  # the exchange, in the other kernel
    assert f"Signed in as {EMAIL} in acme" in shown[-1].text
    shown.append(ok(first, AWAIT_STATUS.format(want="signed_in")))
    assert "status: signed_in" in shown[-1].text
    tokens = {grab(kernel, "stytch.session_token.value") for kernel in (first, second)}
    assert len(tokens) == 1

    shown.append(ok(first, "%stytch revoke"))
    shown.append(ok(second, AWAIT_STATUS.format(want="signed_out")))
    assert "status: signed_out" in shown[-1].text
    scan(first, shown, {"ist": ist, "session": tokens.pop(), "link": b2b.last_magic_link(EMAIL)})


def ok_asked(client: BlockingKernelClient, code: str, answers: list[Any], asked: list[str]) -> Cell:
    cell = execute(client, code, answerer(client, answers, asked))
    assert cell.error is None, cell.text
    return cell


def scan(client: BlockingKernelClient, cells: list[Cell], secrets: dict[str, str]) -> None:
    """Nothing secret in what the cells showed, nor the session's tokens (if any now)."""
    held = execute(client, "print(stytch.session_token.value if stytch.session_token else '')")
    jwt = execute(client, "print(stytch.session_jwt.value if stytch.session_jwt else '')")
    for label, cell in (("session token", held), ("session jwt", jwt)):
        if cell.text.strip():
            secrets[label] = cell.text.strip()
    assert_no_secrets(
        {label: value for label, value in secrets.items() if value},
        texts={f"cell {i}": cell.text for i, cell in enumerate(cells)},
    )


def test_sso_through_the_jupyter_server_callback(b2b, tmp_path) -> None:
    from tests.browser.jupyterlab import JupyterLabServer

    env = {"STYTCH_API_URL": b2b.api_url, "STYTCH_PUBLIC_TOKEN": b2b.public_token}
    b2b.create_organization("Acme", "acme", sso_connections=[{"kind": "oidc"}])
    log = tmp_path / "server.log"
    with JupyterLabServer(tmp_path / "lab", log_path=log, env=env) as server:
        with server.api() as api:
            started = api.post("/api/kernels", json={"name": "python3"})
            started.raise_for_status()
        kernel_id = started.json()["id"]
        connection = tmp_path / "lab" / "jupyter-runtime" / f"kernel-{kernel_id}.json"
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.hb_channel.time_to_dead = 10.0  # no kernel manager here: a loaded machine is slow
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            # The kernel is local too (loopback would come first): ask for the server's route.
            route = ok(
                client,
                f"{SETUP}\n%config Stytch.redirect_route = 'server'\n"
                "print(stytch.redirect.route().name)",
            )
            assert route.text.split()[-1] == "server"
            running = Running(client, "%stytch login sso --org acme")
            text = running.wait_for("this cell waits")
            assert "in the browser where this notebook is open" in text
            [start] = [word for word in text.split() if word.startswith(b2b.api_url)]
            back = b2b.complete_idp(start, EMAIL)
            assert back.startswith(f"{server.base_url}/stytch-jupyter/callback?flow=")
            token = parse_qs(urlsplit(back).query)["token"][0]
            with httpx.Client(trust_env=False, timeout=30) as http:
                # Only the server's own user reaches the callback: nothing is handed over.
                stranger = http.get(back)
                assert stranger.status_code in (302, 403), stranger.status_code
                assert running.cell.error is None and "Signed in" not in running.cell.text
                # The user's browser: signed in to the server (its cookie), as a notebook's is.
                # (A header token would not do: the redirect's own token= shadows it.)
                assert http.get(server.url("/lab")).status_code == 200
                page = http.get(back)
            assert page.status_code == 200, (page.status_code, page.headers.get("location"))
            assert token not in page.text
            assert page.headers["Cache-Control"] == "no-store"
            cell = running.result()
            assert cell.error is None, cell.text
            assert f"Signed in as {EMAIL} in acme" in cell.text
            listeners = ok(
                client,
                "from stytch_jupyter.session.redirect.loopback import open_listeners\n"
                "print(open_listeners(), stytch.member_session.authentication_factors[0].type)",
            )
            assert listeners.text.split() == ["0", "sso"]  # no loopback listener was used
            scan(client, [route, cell, listeners], {"sso token": token})
        finally:
            client.stop_channels()
    assert_no_secrets({"sso token": token}, files=[log])
