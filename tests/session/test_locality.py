"""Is the kernel local, and which way back a flow takes: decided from facts, overridable."""

from __future__ import annotations

from pathlib import Path

import pytest

from stytch_jupyter.session.locality import Locality, detect
from stytch_jupyter.session.redirect import RedirectRouteError, choose_route
from stytch_jupyter.session.redirect.mailbox import CALLBACK_PATH_ENV, CALLBACK_URL_ENV, MAILBOX_ENV


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


# ---- a hub that does not know its public address ---------------------------------------------


@pytest.fixture
def addressless_hub_env(tmp_path: Path) -> dict[str, str]:
    """What the server extension gives kernels under a hub without c.JupyterHub.public_url."""
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir(mode=0o700)
    return {MAILBOX_ENV: str(mailbox), CALLBACK_PATH_ENV: "/hub/user-redirect/x/callback"}


def test_an_addressless_hub_uses_the_page_origin_or_says_what_to_set(
    addressless_hub_env: dict[str, str],
) -> None:
    remote = Locality("remote", "JupyterHub")
    origin = "https://hub.example:8443"
    from_widget = choose_route(
        "auto", "", environ=addressless_hub_env, locality=remote, origin=origin
    )
    assert from_widget.name == "server" and from_widget.hint is None
    assert from_widget.callback_url == "https://hub.example:8443/hub/user-redirect/x/callback"

    from_a_cell = choose_route("auto", "", environ=addressless_hub_env, locality=remote)
    assert from_a_cell.name == "paste"
    assert from_a_cell.hint is not None and "\n" not in from_a_cell.hint
    assert "set c.JupyterHub.public_url (or STYTCH_JUPYTER_CALLBACK_URL" in from_a_cell.hint
    with pytest.raises(RedirectRouteError, match=r"set c\.JupyterHub\.public_url"):
        choose_route("server", "", environ=addressless_hub_env, locality=remote)
    # A relay page still applies; a hub that knows its address needs no origin.
    relay = choose_route(
        "auto", "https://r.example/p", environ=addressless_hub_env, locality=remote
    )
    assert relay.name == "relay"
    known = {**addressless_hub_env, CALLBACK_URL_ENV: "https://hub/hub/user-redirect/x"}
    assert (
        choose_route("auto", "", environ=known, locality=remote).callback_url
        == known[CALLBACK_URL_ENV]
    )


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        # c.JupyterHub.public_url set: the hub says where it is.
        (
            {
                "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/",
                "JUPYTERHUB_PUBLIC_HUB_URL": "https://hub.example/jh/hub/",
                "JUPYTERHUB_HOST": "https://hub.example",
                "JUPYTERHUB_BASE_URL": "/jh/",
            },
            "https://hub.example/jh/hub/user-redirect/stytch-jupyter/callback",
        ),
        # Only c.JupyterHub.subdomain_host: the hub's host, with its base URL.
        (
            {
                "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/",
                "JUPYTERHUB_PUBLIC_HUB_URL": "",
                "JUPYTERHUB_HOST": "https://hub.example",
                "JUPYTERHUB_BASE_URL": "/",
            },
            "https://hub.example/hub/user-redirect/stytch-jupyter/callback",
        ),
        # Neither: unknown to the server.
        (
            {
                "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/",
                "JUPYTERHUB_PUBLIC_HUB_URL": "",
                "JUPYTERHUB_HOST": "",
                "JUPYTERHUB_BASE_URL": "/",
            },
            None,
        ),
        # No hub: the server's own address.
        ({}, "http://127.0.0.1:8888/lab/stytch-jupyter/callback"),
    ],
)
def test_the_server_derives_its_public_callback_url(
    environ: dict[str, str], url: str | None
) -> None:
    from stytch_jupyter.server.extension import public_callback_url

    assert public_callback_url(environ, "http://127.0.0.1:8888/lab/") == url
    assert public_callback_url(environ, "http://x/", explicit="https://set/cb") == "https://set/cb"


def test_the_path_on_an_addressless_hub_keeps_its_base_url() -> None:
    from stytch_jupyter.server.extension import hub_callback_path

    assert hub_callback_path({"JUPYTERHUB_BASE_URL": "/jh/"}) == (
        "/jh/hub/user-redirect/stytch-jupyter/callback"
    )
    assert hub_callback_path({}) == "/hub/user-redirect/stytch-jupyter/callback"


def test_a_widget_preview_counts_the_origin_it_will_report(
    addressless_hub_env: dict[str, str],
) -> None:
    # The widget shows its OAuth buttons where a redirect can come back; its click reports the
    # page's origin, which is all an addressless hub's server route needs.
    remote = Locality("remote", "JupyterHub")
    preview = choose_route("auto", "", environ=addressless_hub_env, locality=remote, from_page=True)
    assert preview.name == "server" and preview.hint is None
    assert choose_route("auto", "", environ={}, locality=remote, from_page=True).name == "paste"
