"""``%load_ext`` / ``%unload_ext stytch_jupyter`` in IPython's own shell, against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError

import stytch_jupyter
from stytch_jupyter.api.models import Session, User
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.ipython import extension
from stytch_jupyter.ipython.magics import StytchMagics, complete_stytch
from stytch_jupyter.ipython.stytch_object import NotebookStytch
from tests.conftest import EMAIL
from tests.support.models import make_session, make_user
from tests.support.shells import Prompts, clean_shell, otp_code, prepared_shell, run
from tests.support.waiting import wait_for

HEAVY_MODULES = (
    "httpx",
    "cryptography",
    "keyring",
    "ipywidgets",
    "jwt",
    "filelock",
    "platformdirs",
    # what only some calls need: a redirect's listener, the factors beyond sign-in
    "http.server",
    "stytch_jupyter.session.redirect",
    "stytch_jupyter.api.factor_models",
)


@pytest.fixture
def ip(emulator: Emulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    shell = prepared_shell(emulator, tmp_path / "stytch-data", monkeypatch)
    yield shell
    clean_shell(shell)


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stytch-session"]


def sign_in(ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> NotebookStytch:
    import getpass

    monkeypatch.setattr(getpass, "getpass", Prompts().answer(otp_code(emulator)))
    result = run(ip, f"%stytch login otp --email {EMAIL}")
    assert result.success, result.error_in_exec
    stytch: NotebookStytch = ip.user_ns["stytch"]
    assert stytch.status == "signed_in"
    return stytch


def ours_in_formatters(ip: Any) -> bool:
    formatter = ip.display_formatter.formatters["text/html"]
    try:
        formatter.lookup_by_type(Session)
    except KeyError:
        return False
    return True


# ---- loading -------------------------------------------------------------------------------------


def test_load_puts_everything_in_place(ip: Any) -> None:
    assert ip.find_line_magic("stytch") is None
    result = run(ip, "%load_ext stytch_jupyter")
    assert result.success, result.error_in_exec

    stytch = ip.user_ns["stytch"]
    assert isinstance(stytch, NotebookStytch)
    assert stytch is extension.get_stytch() is stytch_jupyter.stytch
    run(ip, "from stytch_jupyter import stytch as imported")
    assert ip.user_ns["imported"] is stytch

    magic = ip.find_line_magic("stytch")
    assert magic is not None and isinstance(magic.__self__, StytchMagics)
    assert magic.__self__.manager is stytch
    assert stytch.config in ip.configurables
    assert complete_stytch in ip.Completer.custom_matchers
    assert ours_in_formatters(ip)
    assert len(session_threads()) == 1
    # The config came from the shell: its traitlets config (c.Stytch.…) and the environment.
    assert stytch.config.parent is ip
    assert stytch.config.token_store == "file" and stytch.config.timeout == 5.0


def test_loading_twice_is_harmless(ip: Any, capsys: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch = ip.user_ns["stytch"]
    run(ip, "%load_ext stytch_jupyter")
    assert "already loaded" in capsys.readouterr().out
    # Even called directly (as a careless launcher might), nothing is doubled.
    stytch_jupyter.load_ipython_extension(ip)
    stytch_jupyter.load_ipython_extension(ip)
    assert ip.user_ns["stytch"] is stytch
    assert ip.find_line_magic("stytch").__self__.manager is stytch
    assert len(session_threads()) == 1
    assert ip.configurables.count(stytch.config) == 1
    assert ip.Completer.custom_matchers.count(complete_stytch) == 1
    assert not [c for c in ip.configurables if isinstance(c, Stytch) and c is not stytch.config]


def test_load_returns_before_the_network_and_rehydrates_in_the_background(
    ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(ip, "%load_ext stytch_jupyter")
    first = sign_in(ip, emulator, monkeypatch)
    assert first.session is not None
    session_id = first.session.session_id
    run(ip, "%unload_ext stytch_jupyter")

    # Stytch answers slowly now: loading must not wait for it.
    # (The tokens read as "unconfirmed" before %load_ext returns: no race with this latency.)
    emulator.add_fault(path_prefix="/sdk/v1/sessions/authenticate", latency_ms=500)
    result = run(ip, "%load_ext stytch_jupyter")
    assert result.success
    stytch: NotebookStytch = ip.user_ns["stytch"]
    assert stytch is not first
    # Loaded, and the stored tokens held while Stytch takes its time to confirm them.
    wait_for(lambda: stytch.status == "unconfirmed", what="the stored tokens to be read")
    assert stytch.session is None
    wait_for(lambda: stytch.status == "signed_in", what="the stored session to rehydrate")
    assert stytch.session is not None and stytch.session.session_id == session_id
    assert stytch.user is not None and stytch.user.email == EMAIL


# ---- unloading -----------------------------------------------------------------------------------


def test_unload_removes_everything(ip: Any, emulator: Emulator, capsys: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch = ip.user_ns["stytch"]
    config = stytch.config
    assert session_threads()

    result = run(ip, "%unload_ext stytch_jupyter")
    assert result.success, result.error_in_exec
    assert session_threads() == []
    assert stytch.threads == []
    assert "stytch" not in ip.user_ns
    assert ip.find_line_magic("stytch") is None
    assert "StytchMagics" not in ip.magics_manager.registry
    assert config not in ip.configurables
    assert complete_stytch not in ip.Completer.custom_matchers
    assert not ours_in_formatters(ip)
    assert extension._instance is None
    result = run(ip, "%stytch status")
    assert isinstance(result.error_in_exec, UsageError)
    capsys.readouterr()
    run(ip, "%config")
    assert "Stytch" not in capsys.readouterr().out.split()

    # A re-load starts fresh: a new object, a new thread, the magic bound to it.
    run(ip, "%load_ext stytch_jupyter")
    again = ip.user_ns["stytch"]
    assert again is not stytch and again.config is not config
    assert ip.find_line_magic("stytch").__self__.manager is again
    assert len(session_threads()) == 1


def test_reload_ext_swaps_in_a_fresh_object(ip: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    old = ip.user_ns["stytch"]
    result = run(ip, "%reload_ext stytch_jupyter")
    assert result.success, result.error_in_exec
    new = ip.user_ns["stytch"]
    assert new is not old
    assert old.closed and old.threads == []  # the old object's thread has ended
    # One session thread, the new object's (its store worker may be up already: it reads the
    # store and builds the TLS context from the start).
    ours = [t for t in new.threads if t.name == "stytch-session"]
    assert len(ours) == 1 and session_threads() == ours


def test_a_widget_from_before_reload_ext_says_its_session_was_closed(ip: Any) -> None:
    from stytch_jupyter.ipython.widget import CLOSED_TEXT

    run(ip, "%load_ext stytch_jupyter")
    result = run(ip, "old_widget = stytch.widget()")
    assert result.success, result.error_in_exec
    widget = ip.user_ns.pop("old_widget")
    try:
        run(ip, "%reload_ext stytch_jupyter")
        assert widget.state["status"] == CLOSED_TEXT and widget.state["kind"] == "closed"
        assert widget.state["actions"] == [] and widget.state["form"] is None
        # A message the front end still sends.
        widget._handle_custom_msg({"action": "send_code", "email": "a@example.com"}, [])
        widget.wait(5)
        assert widget.manager.threads == []
        assert len(session_threads()) == 1  # the new object's, nothing restarted
        assert widget.state["status"] == CLOSED_TEXT
    finally:
        widget.close()


def test_a_name_the_user_had_is_given_back(ip: Any, capsys: Any) -> None:
    theirs = types.ModuleType("stytch")  # e.g. Stytch's own backend SDK: `import stytch`
    ip.user_ns["stytch"] = theirs
    run(ip, "%load_ext stytch_jupyter")
    err = capsys.readouterr().err
    assert "`stytch` now names the session object" in err and "module" in err
    assert isinstance(ip.user_ns["stytch"], NotebookStytch)
    run(ip, "%unload_ext stytch_jupyter")
    assert ip.user_ns["stytch"] is theirs
    del ip.user_ns["stytch"]


def test_a_name_the_user_rebound_is_left_alone(ip: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    run(ip, "stytch = 'mine now'")
    run(ip, "%unload_ext stytch_jupyter")
    assert ip.user_ns["stytch"] == "mine now"
    assert session_threads() == []
    del ip.user_ns["stytch"]


def test_get_stytch_before_load_is_the_object_load_uses(ip: Any) -> None:
    early = extension.get_stytch()
    assert early.config in ip.configurables
    run(ip, "%load_ext stytch_jupyter")
    assert ip.user_ns["stytch"] is early
    run(ip, "%unload_ext stytch_jupyter")
    assert session_threads() == []
    assert early.config not in ip.configurables


def test_get_stytch_in_a_shell_shows_users_and_sessions_richly(ip: Any) -> None:

    assert not ours_in_formatters(ip)
    run(ip, "from stytch_jupyter import stytch")  # no %load_ext
    assert ours_in_formatters(ip)
    extension.get_stytch()  # again: registering twice changes nothing
    html = ip.display_formatter.formatters["text/html"]
    # Registered by name (deferred until a value is shown), or by class once one has been.
    ours = [cls for cls in html.type_printers if cls in (Session, User)]
    ours += [key for key in html.deferred_printers if key[0] == "stytch_jupyter.api.models"]
    assert len(ours) == 2
    data, _ = ip.display_formatter.format(make_user())
    assert "stytch-user" in data["text/html"]
    data, _ = ip.display_formatter.format(make_session())
    assert data["text/plain"].startswith("Stytch session session-test-")

    run(ip, "%load_ext stytch_jupyter")
    run(ip, "%unload_ext stytch_jupyter")
    assert not ours_in_formatters(ip)
    assert "stytch" not in ip.user_ns


# ---- configuration -------------------------------------------------------------------------------


def test_shell_config_reaches_the_object(ip: Any) -> None:
    # What `c.Stytch.heartbeat_interval = 42` in ipython_config.py does.
    ip.config.Stytch.heartbeat_interval = 42.0
    ip.config.Stytch.auto_extend = True
    run(ip, "%load_ext stytch_jupyter")
    config = ip.user_ns["stytch"].config
    assert config.heartbeat_interval == 42.0 and config.auto_extend is True


def test_config_magic_lists_the_options(ip: Any, capsys: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    capsys.readouterr()
    run(ip, "%config")
    assert "Stytch" in capsys.readouterr().out.split()
    run(ip, "%config Stytch")
    out = capsys.readouterr().out
    for option in (
        "public_token",
        "api_url",
        "session_duration_minutes",
        "heartbeat_interval",
        "auto_extend",
        "token_store",
        "data_dir",
        "timeout",
    ):
        assert f"Stytch.{option}=" in out
    result = run(ip, "%config Stytch.timeout")
    assert result.result == 5.0


def test_config_heartbeat_interval_takes_effect_at_once(
    ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch = sign_in(ip, emulator, monkeypatch)
    wait_for(lambda: stytch.heartbeat_state == "scheduled")
    assert stytch.next_check_at is not None
    assert stytch.next_check_at - datetime.now(timezone.utc) > timedelta(seconds=100)
    validated = stytch.last_validated_at
    assert validated is not None

    result = run(ip, "%config Stytch.heartbeat_interval = 0.5")
    assert result.success, result.error_in_exec
    assert stytch.config.heartbeat_interval == 0.5
    wait_for(
        lambda: (
            stytch.next_check_at is not None
            and stytch.next_check_at - datetime.now(timezone.utc) <= timedelta(seconds=0.5)
        ),
        what="the next beat to be rescheduled",
    )
    # And the beats happen, with nobody asking.
    wait_for(
        lambda: stytch.last_validated_at is not None and stytch.last_validated_at > validated,
        what="a background check",
    )
    run(ip, "%stytch heartbeat")
    assert "(every 0.5 s, checks only)" in capsys.readouterr().out


def test_a_bad_config_value_changes_nothing(ip: Any, capsys: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    config = ip.user_ns["stytch"].config
    interval, duration = config.heartbeat_interval, config.session_duration_minutes
    run(ip, "%config Stytch.heartbeat_interval = -1")
    run(ip, "%config Stytch.session_duration_minutes = 4")
    assert (config.heartbeat_interval, config.session_duration_minutes) == (interval, duration)


# ---- the load path stays light (fresh interpreters: nothing imported yet) ------------------------


def _python(code: str, env: dict[str, str]) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _clean_env(tmp_path: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYTCH_")}
    env["STYTCH_JUPYTER_DATA_DIR"] = str(tmp_path)
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    return env


def test_load_imports_nothing_heavy(tmp_path: Any) -> None:
    # No public token: the background thread has nothing to load, so whatever is imported
    # was imported by %load_ext itself, on the main thread.
    code = f"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "stytch_jupyter")
ip.run_cell("stytch")
heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules]
ip.run_line_magic("unload_ext", "stytch_jupyter")
print(json.dumps(heavy))
"""
    assert _python(code, _clean_env(tmp_path)) == []


def test_import_stytch_in_a_plain_script(tmp_path: Any) -> None:
    code = """
import json, sys, threading
from stytch_jupyter import stytch
from stytch_jupyter import stytch as again
names = [t.name for t in threading.enumerate()]
out = {"ipython": "IPython" in sys.modules, "same": stytch is again,
       "type": type(stytch).__name__, "status": stytch.status,
       "threads": names.count("stytch-session")}
stytch.close()
out["after_close"] = [t.name for t in threading.enumerate()].count("stytch-session")
print(json.dumps(out))
"""
    assert _python(code, _clean_env(tmp_path)) == {
        "ipython": False,
        "same": True,
        "type": "NotebookStytch",
        "status": "signed_out",
        "threads": 1,
        "after_close": 0,
    }


def test_completion_is_registered_once_and_removed(ip: Any) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch_jupyter.load_ipython_extension(ip)
    with provisionalcompleter():
        texts = [c.text for c in ip.Completer.completions("%stytch log", 11)]
    assert texts == ["login"]
    run(ip, "%unload_ext stytch_jupyter")
    assert complete_stytch not in ip.Completer.custom_matchers


def test_user_and_session_are_shown_by_our_formatters(
    ip: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(ip, "%load_ext stytch_jupyter")
    stytch = sign_in(ip, emulator, monkeypatch)
    data, _ = ip.display_formatter.format(stytch.user)
    assert isinstance(stytch.user, User)
    assert EMAIL in data["text/html"] and "stytch-user" in data["text/html"]
    run(ip, "%unload_ext stytch_jupyter")
    data, _ = ip.display_formatter.format(stytch.user)
    assert "text/html" not in data
