"""A JupyterLab server on loopback for browser tests, isolated from the user's Jupyter setup.

Every per-user Jupyter folder (config, data, runtime, Lab settings and workspaces, IPython) points
into one temp folder, so a developer's own extensions, settings or history never leak into a test
and a test never writes into them. The venv's own ``share/jupyter`` stays on Jupyter's search path
(it is a system path, not the user data dir), which is where the ``python3`` kernelspec and the
ipywidgets Lab extension come from.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, TypeVar

import httpx

T = TypeVar("T")

# JupyterLab's first start on a loaded 2-core machine builds its page config and can take 10-20 s.
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0

# User settings written before the server starts: no news or update toasts over the cells, and
# widget state saved into the notebook (so a secret scan of a saved .ipynb covers widget state).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
    # No autosave: the saved file changes only when a test saves, so save() can wait for it.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


class JupyterLabError(RuntimeError):
    """The server could not be started (its log file says why)."""


def poll_until(
    predicate: Callable[[], T | None], *, timeout: float, message: str, interval: float = 0.1
) -> T:
    """Call ``predicate`` until it returns something truthy (returned), or fail after ``timeout``
    seconds. For conditions outside the page (files, databases, REST), where Playwright cannot wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} (after {timeout:.0f} s)")
        time.sleep(interval)  # the poll interval; the outcome is the predicate


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class JupyterLabServer:
    """``python -m jupyter lab`` on 127.0.0.1 with a random token; a context manager.

    ``env`` is added to the server's environment, and kernels inherit it: that is how a scenario
    points kernels at the emulator (``STYTCH_API_URL``, ``STYTCH_PUBLIC_TOKEN``, ...).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.root_dir = self.base_dir / "root"
        self.ipython_dir = self.base_dir / "ipython"
        self.settings_dir = self.base_dir / "lab-settings"
        self.log_path = Path(log_path)
        self.extra_env = dict(env or {})
        self.lab_settings = dict(LAB_SETTINGS if lab_settings is None else lab_settings)
        self.token = secrets.token_hex(24)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/lab") -> str:
        """A browser URL carrying the token (the page then keeps it in a cookie)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self) -> httpx.Client:
        """An HTTP client for the server's REST API (``/api/...``), authenticated by token."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"token {self.token}"},
            timeout=30.0,
            trust_env=False,
        )

    @property
    def history_path(self) -> Path:
        """IPython's history database, shared by every kernel this server starts."""
        return self.ipython_dir / "profile_default" / "history.sqlite"

    @property
    def stytch_data_dir(self) -> Path:
        """Where kernels keep the encrypted token store (``STYTCH_JUPYTER_DATA_DIR``)."""
        return Path(self.environment()["STYTCH_JUPYTER_DATA_DIR"])

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- life cycle ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in (
            "JUPYTER_PATH",
            "JUPYTER_CONFIG_PATH",
            "JUPYTER_TOKEN",
            "JUPYTER_PREFER_ENV_PATH",
        ):
            env.pop(name, None)
        # Kernels see only the Stytch settings a scenario passes, never the developer's own.
        for name in [n for n in env if n.startswith("STYTCH_")]:
            del env[name]
        dirs = {
            "JUPYTER_CONFIG_DIR": "jupyter-config",
            "JUPYTER_DATA_DIR": "jupyter-data",
            "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "IPYTHONDIR": "ipython",
        }
        for name, sub in dirs.items():
            env[name] = str(self.base_dir / sub)
        # The kernelspec runs plain "python": make it this venv's, whatever PATH the caller has.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        # Defaults a scenario may override: the token store in this temp dir, with its key in a
        # file beside it rather than in the developer's real OS keyring.
        env["STYTCH_JUPYTER_DATA_DIR"] = str(self.base_dir / "stytch-data")
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        env.update(self.extra_env)
        return env

    def _write_settings(self) -> None:
        for plugin, values in self.lab_settings.items():
            path = self.settings_dir / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.open_browser=False",
            # CI and this machine run as root; the server refuses to start as root without this.
            "--ServerApp.allow_root=True",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.collaborative=False",
            # Galata (JupyterLab's own UI tests) does the same: window.jupyterapp runs commands.
            "--LabApp.expose_app_in_browser=True",
        ]

    def start(self) -> JupyterLabServer:
        if self.running:
            return self
        for sub in ("root", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        self._write_settings()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A port can be taken between free_port() and the bind: retry a few times on a new one.
        for _attempt in range(3):
            self.port = free_port()
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.root_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if self._wait_ready():
                return self
            if self._process.poll() is None:
                break
        self.stop()
        tail = self.log_path.read_text(errors="replace").splitlines()[-5:]
        raise JupyterLabError(
            f"JupyterLab did not become ready; see {self.log_path}:\n" + "\n".join(tail)
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with self.api() as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    return False
                try:
                    if client.get("/api/status", timeout=5.0).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.2)  # a poll interval, not a wait for an outcome
        return False

    def stop(self) -> None:
        """Shut down kernels and the server: kernels over REST, then terminate, wait, kill."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # Kernels run in their own process groups: ask the server to stop them first, so
            # none is orphaned even if the server itself has to be killed below.
            with contextlib.suppress(httpx.HTTPError):
                self.shutdown_kernels()
            process.terminate()  # SIGTERM: jupyter_server shuts its kernels down, then exits
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # Its process group: the server and any helper it started (not kernels, which
                # have groups of their own and were shut down above).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> JupyterLabServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- REST helpers ----------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        with self.api() as client:
            response = client.get("/api/sessions")
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()
            return result

    def lab_extensions(self) -> list[str]:
        """Names of the prebuilt Lab extensions the page will load (from its page config)."""
        with self.api() as client:
            page = client.get("/lab").text
        found = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
        )
        if found is None:
            raise JupyterLabError("no page config in /lab: not a JupyterLab server?")
        config = json.loads(found.group(1))
        return [extension["name"] for extension in config.get("federated_extensions", [])]

    def shutdown_kernels(self) -> None:
        with self.api() as client:
            for kernel in client.get("/api/kernels").json():
                client.delete(f"/api/kernels/{kernel['id']}")

    def shutdown_sessions(self, paths: Iterable[str] | None = None) -> None:
        """Delete the sessions (and so kernels) of the given notebook paths, or of all."""
        wanted = None if paths is None else set(paths)
        with self.api() as client:
            for session in client.get("/api/sessions").json():
                if wanted is None or session.get("path") in wanted:
                    client.delete(f"/api/sessions/{session['id']}")


class ServerFactory(Protocol):
    def __call__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        name: str = "lab",
        lab_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> JupyterLabServer: ...
