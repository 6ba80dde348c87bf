"""Is the kernel local, and which way back a flow takes: decided from facts, overridable."""

from __future__ import annotations

from pathlib import Path

import pytest

from stytch_jupyter.session.locality import Locality, detect
from stytch_jupyter.session.redirect import RedirectRouteError, choose_route
from stytch_jupyter.session.redirect.mailbox import CALLBACK_URL_ENV, MAILBOX_ENV


def nothing(path: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("environ", "kind", "said"),
    [
        ({}, "local", "no sign"),
        ({"JUPYTERHUB_API_TOKEN": "x"}, "remote", "JupyterHub"),
        ({"BINDER_LAUNCH_HOST": "https://mybinder.org/"}, "remote", "Binder"),
        ({"COLAB_RELEASE_TAG": "release"}, "remote", "Colab"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "remote", "Kaggle"),
        ({"CODESPACES": "true"}, "remote", "Codespaces"),
        ({"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, "remote", "SSH"),
        ({"REMOTE_CONTAINERS": "true"}, "unknown", "Dev Container"),
        ({"VSCODE_AGENT_FOLDER": "/root/.vscode-server"}, "unknown", "VS Code Remote"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "unknown", "Kubernetes"),
        ({"STYTCH_JUPYTER_REMOTE": "0", "SSH_CONNECTION": "x"}, "local", "STYTCH_JUPYTER_REMOTE"),
        ({"STYTCH_JUPYTER_REMOTE": "yes"}, "remote", "STYTCH_JUPYTER_REMOTE"),
    ],
)
def test_detect_names_where_the_kernel_runs(environ, kind, said) -> None:
    found = detect(environ, exists=nothing)
    assert found.kind == kind and said in found.reason


def test_a_container_is_unknown() -> None:
    found = detect({}, exists=lambda path: path == "/.dockerenv")
    assert found == Locality("unknown", "running in a Docker container (/.dockerenv)")


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir(mode=0o700)
    return {MAILBOX_ENV: str(mailbox), CALLBACK_URL_ENV: "https://hub/hub/user-redirect/x"}


def test_routes_first_that_applies(server_env) -> None:
    local, remote = Locality("local", "l"), Locality("remote", "r")
    unknown = Locality("unknown", "u")
    assert choose_route("auto", "", environ={}, locality=local).name == "loopback"
    assert choose_route("auto", "", environ=server_env, locality=local).name == "loopback"
    assert choose_route("auto", "", environ=server_env, locality=remote).name == "server"
    assert choose_route("auto", "", environ=server_env, locality=unknown).name == "server"
    relay = "https://example.com/relay"
    assert choose_route("auto", relay, environ={}, locality=remote).name == "relay"
    assert choose_route("auto", "", environ={}, locality=unknown).name == "loopback"
    remote_only = choose_route("auto", "", environ={}, locality=remote)
    assert remote_only.name == "paste" and "no other way back" in remote_only.reason
    # The setting overrides the guess.
    assert choose_route("loopback", "", environ={}, locality=remote).name == "loopback"
    assert choose_route("paste", relay, environ=server_env, locality=local).name == "paste"
    server = choose_route("server", "", environ=server_env, locality=local)
    assert server.callback_url == server_env[CALLBACK_URL_ENV]


def test_a_route_that_cannot_work_says_why(server_env) -> None:
    local = Locality("local", "l")
    with pytest.raises(RedirectRouteError, match=r"no stytch_jupyter\.server extension"):
        choose_route("server", "", environ={}, locality=local)
    with pytest.raises(RedirectRouteError, match=r"Stytch\.relay_url"):
        choose_route("relay", "", environ={}, locality=local)
    gone = {**server_env, MAILBOX_ENV: "/nonexistent/mailbox"}
    with pytest.raises(RedirectRouteError, match="is gone"):
        choose_route("server", "", environ=gone, locality=local)
