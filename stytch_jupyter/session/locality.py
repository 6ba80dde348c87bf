"""Is this kernel on the user's machine? ``local``, ``remote`` or ``unknown``, with the reason.

A loopback redirect (``http://127.0.0.1:PORT/...``) only works when the browser that opens the
link runs where the kernel runs. Hosted notebooks announce themselves through their
environment; a container or an SSH session says "probably not"; nothing at all says "local".
``Stytch.redirect_route`` (or ``STYTCH_JUPYTER_REMOTE=0/1``) overrides the guess.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

REMOTE_ENV = "STYTCH_JUPYTER_REMOTE"

Kind = Literal["local", "remote", "unknown"]

# (environment variable, where that means the kernel runs), most specific first.
_REMOTE_MARKERS: tuple[tuple[str, str], ...] = (
    ("JUPYTERHUB_API_TOKEN", "JupyterHub"),
    ("JUPYTERHUB_USER", "JupyterHub"),
    ("BINDER_LAUNCH_HOST", "Binder"),
    ("BINDER_REPO_URL", "Binder"),
    ("COLAB_RELEASE_TAG", "Google Colab"),
    ("COLAB_GPU", "Google Colab"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Kaggle"),
    ("KAGGLE_URL_BASE", "Kaggle"),
    ("CODESPACES", "GitHub Codespaces"),
    ("CLOUD_SHELL", "Cloud Shell"),
    ("SSH_CONNECTION", "an SSH session"),
    ("SSH_CLIENT", "an SSH session"),
)
# VS Code Remote forwards ports on its own, but to a port of its choosing: a guess either way.
_UNKNOWN_MARKERS: tuple[tuple[str, str], ...] = (
    ("REMOTE_CONTAINERS", "a VS Code Dev Container"),
    ("VSCODE_REMOTE_CONTAINERS_SESSION", "a VS Code Dev Container"),
    ("VSCODE_AGENT_FOLDER", "VS Code Remote"),
    ("KUBERNETES_SERVICE_HOST", "a Kubernetes pod"),
)
# Every variable ``detect`` reads (tests clear them to start from a plain local machine).
MARKER_ENVS = (REMOTE_ENV, *(name for name, _ in _REMOTE_MARKERS + _UNKNOWN_MARKERS))
_CONTAINER_FILES = (("/.dockerenv", "a Docker container"), ("/run/.containerenv", "a container"))


@dataclass(frozen=True)
class Locality:
    kind: Kind
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.reason})"


def detect(
    environ: Mapping[str, str] | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> Locality:
    """Where this process runs, as far as its environment tells."""
    env = os.environ if environ is None else environ
    explicit = env.get(REMOTE_ENV, "").strip().lower()
    if explicit:
        remote = explicit not in ("0", "false", "no")
        return Locality("remote" if remote else "local", f"{REMOTE_ENV}={explicit[:10]}")
    for name, where in _REMOTE_MARKERS:
        if env.get(name):
            return Locality("remote", f"running in {where} (${name})")
    for name, where in _UNKNOWN_MARKERS:
        if env.get(name):
            return Locality("unknown", f"running in {where} (${name})")
    for path, where in _CONTAINER_FILES:
        if exists(path):
            return Locality("unknown", f"running in {where} ({path})")
    return Locality("local", "no sign of a remote or hosted kernel")
