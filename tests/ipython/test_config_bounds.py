"""Settings are checked when set (a clear error, the old value kept), and what a server may ask
for is bounded: issue 8, items 12 and 13."""

from __future__ import annotations

from typing import Any

import pytest

from stytch_jupyter.config import (
    MAX_CHECK_GAP_SECONDS,
    MAX_HEARTBEAT_SECONDS,
    MIN_HEARTBEAT_SECONDS,
    Stytch,
)
from stytch_jupyter.session.heartbeat import Conditions, plan_next_check
from tests.support.shells import run


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("Stytch.timeout = float('inf')", "timeout must be"),
        ("Stytch.timeout = float('nan')", "timeout must be"),
        ("Stytch.timeout = 10**6", "timeout must be"),
        ("Stytch.timeout = 0", "timeout must be"),
        ("Stytch.heartbeat_interval = 0.01", "heartbeat_interval must be"),
        ("Stytch.heartbeat_interval = float('inf')", "heartbeat_interval must be"),
        ("Stytch.heartbeat_interval = 10**6", "heartbeat_interval must be"),
    ],
)
def test_out_of_bounds_settings_are_refused_and_change_nothing(
    ip: Any, caplog: Any, line: str, says: str
) -> None:
    run(ip, "%load_ext stytch_jupyter")
    config = ip.user_ns["stytch"].config
    before = (config.timeout, config.heartbeat_interval)
    run(ip, f"%config {line}")
    assert (config.timeout, config.heartbeat_interval) == before
    # %config logs the refusal as one line.
    assert says in caplog.text


def test_the_bounds_themselves_are_accepted() -> None:
    config = Stytch(heartbeat_interval=MIN_HEARTBEAT_SECONDS)
    config.heartbeat_interval = MAX_HEARTBEAT_SECONDS
    config.timeout = 300


@pytest.mark.parametrize("failures, retry_after", [(0, None), (3, 100000.0), (3, 899.0)])
def test_no_wait_is_longer_than_fifteen_minutes(failures: int, retry_after: float | None) -> None:
    assert MAX_CHECK_GAP_SECONDS <= 15 * 60
    conditions = Conditions(
        status="signed_in", interval=MAX_HEARTBEAT_SECONDS, auto_extend=False, expires_in=1e9
    )
    plan = plan_next_check(conditions, failures, retry_after, rand=lambda: 1.0)
    assert plan.delay is not None and plan.delay <= MAX_CHECK_GAP_SECONDS


def test_a_refused_api_url_keeps_the_one_from_the_environment(ip: Any, emulator: Any) -> None:
    # Before any client is built, and after: the environment's URL stays the effective one.
    run(ip, "%load_ext stytch_jupyter")
    stytch = ip.user_ns["stytch"]
    run(ip, "%config Stytch.api_url = 'http://example.com'")
    assert stytch.config.api_url == emulator.api_url
    assert stytch.config.resolved_api_url == emulator.api_url


def test_a_refused_api_url_before_the_object_exists(
    monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    monkeypatch.setenv("STYTCH_API_URL", emulator.api_url)
    config = Stytch()
    with pytest.raises(Exception, match="plain http"):
        config.update_config(_config(api_url="http://example.com"))
    assert config.api_url == emulator.api_url


def _config(**values: Any) -> Any:
    from traitlets.config import Config

    made = Config()
    for name, value in values.items():
        setattr(made.Stytch, name, value)
    return made
