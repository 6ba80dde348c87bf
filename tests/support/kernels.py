"""Helpers for the tests that run real IPython kernels against the emulator.

- ``kernel_env``: what a kernel needs to reach an emulator, with every per-user folder (IPython,
  Jupyter, keyring) in a temp folder, so a test never reads or writes the developer's own.
- ``RecordingProxy``: a loopback HTTP proxy in front of the emulator that keeps every credential
  crossing it (tokens, JWTs, codes, passwords, the project secret), in requests and in answers:
  a list of what to scan for that does not depend on the emulator's own (``/emulator/v1/issued``).
- ``run_notebooks``: execute notebooks with nbclient as ``stytch-jupyter demo --execute`` does,
  through a ``RecordingProxy``, keeping what a scan needs (saved notebooks, history, logs).
- ``shared_notebook_run``: one run of every notebook in ``notebooks/``, shared by the test
  modules that only read its results (each kernel start costs seconds on a 2-core machine).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from stytch_jupyter.emulator import Emulator
from tests.support.secret_scan import secrets_from_emulator

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 120.0
KERNEL_START_TIMEOUT = 60.0

# Loggers whose DEBUG lines a kernel writes to its log file: ours and the HTTP stack's, the
# places a token could be logged on its way to Stytch.
LOGGED_AT_DEBUG = ("stytch_jupyter", "httpx", "httpcore")

# JSON keys whose string values are credentials in Stytch's APIs and the emulator's control API
# (``code`` in the outbox, ``token`` in client OTP and magic-link requests).
SECRET_KEYS = frozenset({"session_token", "session_jwt", "token", "code", "password", "secret"})


def notebook_paths() -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert paths, f"no notebooks in {NOTEBOOKS}"
    return paths


# ---- kernel environment ------------------------------------------------------------------


_LOGGING_STARTUP = """\
# Written by tests/support/kernels.py: the kernel's log lines (DEBUG for {loggers}) go to a file
# the secret scan reads. Warnings still reach the cell's stderr, as they would without this.
import logging
import os
import sys


class _CellStderr(logging.StreamHandler):
    # Like logging.lastResort: whatever sys.stderr is at the time (the cell's output stream).
    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


_handler = logging.FileHandler(os.path.join({log_dir!r}, f"kernel-{{os.getpid()}}.log"))
_handler.setFormatter(
    logging.Formatter("%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
)
_root = logging.getLogger()
_root.addHandler(_handler)
_warnings = _CellStderr()
_warnings.setLevel(logging.WARNING)
_root.addHandler(_warnings)
for _name in {loggers!r}:
    logging.getLogger(_name).setLevel(logging.DEBUG)
"""


@dataclass(frozen=True)
class KernelHome:
    """The per-user folders of the kernels a test starts, all under ``root``."""

    root: Path

    @property
    def ipython_dir(self) -> Path:
        return self.root / "ipython"

    @property
    def history(self) -> Path:
        return self.ipython_dir / "profile_default" / "history.sqlite"

    @property
    def data_dir(self) -> Path:
        return self.root / "stytch-data"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def xdg_data(self) -> Path:
        return self.root / "xdg-data"

    def create(self, *, debug_logs: bool = False) -> KernelHome:
        for folder in (self.ipython_dir, self.data_dir, self.log_dir, self.xdg_data):
            folder.mkdir(parents=True, exist_ok=True)
        if debug_logs:
            startup = self.ipython_dir / "profile_default" / "startup"
            startup.mkdir(parents=True, exist_ok=True)
            (startup / "00-test-logging.py").write_text(
                _LOGGING_STARTUP.format(log_dir=str(self.log_dir), loggers=LOGGED_AT_DEBUG)
            )
        return self

    def logs(self) -> list[Path]:
        return sorted(self.log_dir.glob("*"))


def kernel_env(home: KernelHome, api_url: str, public_token: str) -> dict[str, str]:
    """The environment ``stytch-jupyter demo`` gives kernels, plus isolation of user folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYTCH_")}
    env.update(
        STYTCH_API_URL=api_url,
        STYTCH_PUBLIC_TOKEN=public_token,
        STYTCH_JUPYTER_DATA_DIR=str(home.data_dir),
        IPYTHONDIR=str(home.ipython_dir),
        # keyring (keyrings.alt's file backend in this venv) keeps its file under here.
        XDG_DATA_HOME=str(home.xdg_data),
        JUPYTER_CONFIG_DIR=str(home.root / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(home.root / "jupyter-runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def kernel_manager(home: KernelHome, name: str) -> KernelManager:
    """A python3 kernel manager whose connection file stays in ``home``."""
    runtime = home.root / "jupyter-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    return KernelManager(kernel_name="python3", connection_file=str(runtime / f"{name}.json"))


# ---- the recording proxy -----------------------------------------------------------------


class SecretRecorder:
    """Credentials seen in HTTP traffic, labelled by what they are and where they were seen."""

    def __init__(self, public_values: Iterable[str]) -> None:
        self._public = {value for value in public_values if value}
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self.kinds: dict[str, int] = {}

    def add(self, kind: str, value: str, where: str) -> None:
        if not value or value in self._public:
            return
        with self._lock:
            if value in self._secrets.values():
                return
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self._secrets[f"{kind} #{self.kinds[kind]} ({where})"] = value

    def secrets(self) -> dict[str, str]:
        with self._lock:
            return dict(self._secrets)

    def authorization(self, header: str | None, where: str) -> None:
        if not header:
            return
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            self.add("bearer token", credentials.strip(), where)
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return
            user, _, password = decoded.partition(":")
            # Client API: public_token:session_token; backend API: project_id:secret.
            self.add("basic-auth password", password, where)
            if not user.startswith("project-"):
                self.add("basic-auth user", user, where)

    def url(self, url: str, where: str) -> None:
        for key, value in parse_qsl(urlsplit(url).query):
            if key in SECRET_KEYS:
                self.add(key, value, where)

    def body(self, data: bytes, where: str) -> None:
        try:
            document = json.loads(data)
        except ValueError:
            return
        self._walk(document, where)

    def _walk(self, node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    if key in SECRET_KEYS:
                        self.add(key, value, where)
                    elif key == "url" or value.startswith("http"):
                        self.url(value, where)  # magic links carry their token in the URL
                else:
                    self._walk(value, where)
        elif isinstance(node, list):
            for item in node:
                self._walk(item, where)


_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "host",
        "content-length",
        "content-encoding",
    }
)


class RecordingProxy:
    """``http://127.0.0.1:PORT`` forwarding everything to ``upstream``, recording credentials.

    Point a kernel's ``STYTCH_API_URL`` here: the client, backend and control APIs all pass
    through, so ``recorder.secrets()`` holds every token, JWT, code and password the emulator
    issued or received.
    """

    def __init__(self, upstream: str, *, public_values: Iterable[str] = ()) -> None:
        self.upstream = upstream.rstrip("/")
        self.recorder = SecretRecorder(public_values)
        self._http = httpx.Client(base_url=self.upstream, trust_env=False, timeout=30.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-proxy", daemon=True
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._http.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the kernel's httpx client expects

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                where = f"{self.command} {urlsplit(self.path).path}"
                recorder = proxy.recorder
                recorder.authorization(self.headers.get("Authorization"), where)
                recorder.url(self.path, where)
                recorder.body(body, where)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                answer = proxy._http.request(self.command, self.path, content=body, headers=headers)
                recorder.body(answer.content, f"answer to {where}")
                self.send_response(answer.status_code)
                for key, value in answer.headers.multi_items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() not in ("date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines can carry tokens; nothing to see here anyway

        return Handler


# ---- test-process logs -------------------------------------------------------------------


@contextlib.contextmanager
def captured_logs(names: Iterable[str] = (*LOGGED_AT_DEBUG, "uvicorn")) -> Iterator[io.StringIO]:
    """This process's log lines meanwhile: the emulator's, uvicorn's and httpx's at DEBUG, the
    rest at their usual levels (not nbclient's DEBUG echo of every output: that is the notebook
    again)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(threadName)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    root = logging.getLogger()
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# ---- running notebooks -------------------------------------------------------------------


@dataclass
class NotebookResult:
    name: str
    notebook: Any = field(repr=False)  # nbformat.NotebookNode, executed
    saved: Path
    stderr: Path
    error: str | None = None

    def code_cells(self) -> list[Any]:
        return [cell for cell in self.notebook.cells if cell.cell_type == "code"]

    def stdout(self) -> str:
        """Everything the cells printed to stdout, in order."""
        return "".join(
            output.get("text", "")
            for cell in self.code_cells()
            for output in cell.outputs
            if output.output_type == "stream" and output.name == "stdout"
        )

    def outputs_of(self, source_start: str, *, exact: bool = False) -> list[Any]:
        """The outputs of the one code cell whose source starts with (or, with ``exact``, is)
        ``source_start``."""
        cells = [
            c
            for c in self.code_cells()
            if (c.source == source_start if exact else c.source.startswith(source_start))
        ]
        assert len(cells) == 1, f"{len(cells)} cells of {self.name} match {source_start!r}"
        return list(cells[0].outputs)

    def widget_states(self) -> dict[str, Any]:
        """model_id -> saved state, from the notebook's widget metadata."""
        saved = self.notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {})
        return {model_id: entry["state"] for model_id, entry in saved.get("state", {}).items()}


@dataclass
class NotebookRun:
    home: KernelHome
    results: dict[str, NotebookResult] = field(default_factory=dict, repr=False)
    # label -> value: everything to scan for (the union of the two below)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # seen by the RecordingProxy, and counted by kind
    wire_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    secret_kinds: dict[str, int] = field(default_factory=dict)
    # listed by the emulator itself (GET /emulator/v1/issued) plus its project secret
    issued: dict[str, str] = field(default_factory=dict, repr=False)
    test_process_log: str = field(default="", repr=False)

    def kernel_files(self) -> list[Path]:
        """Where a notebook user's secrets could end up: everything the kernels wrote, i.e. the
        saved notebooks, IPython's folder (history.sqlite), kernel stderr and DEBUG logs, the
        token store's data dir and the keyring's file (``home.root`` holds them all)."""
        return [self.home.root]


def run_notebooks(paths: Iterable[Path], home: KernelHome, emulator: Emulator) -> NotebookRun:
    """Execute copies of ``paths`` one after another, each in a fresh kernel, as ``stytch-jupyter
    demo --execute`` does (one shared data dir), with widget state stored and IPython history
    written to a real file. A failing notebook is recorded in its result, not raised."""
    home.create(debug_logs=True)
    work = home.root / "notebooks"
    work.mkdir(exist_ok=True)
    run = NotebookRun(home)
    public = (emulator.public_token, emulator.project_id)
    proxy = RecordingProxy(emulator.api_url, public_values=public)
    with captured_logs() as process_log, proxy:
        env = kernel_env(home, proxy.api_url, emulator.public_token)
        for path in paths:
            copy = Path(shutil.copy2(path, work / path.name))
            notebook = nbformat.read(copy, as_version=4)
            client = NotebookClient(
                notebook,
                timeout=CELL_TIMEOUT,
                startup_timeout=KERNEL_START_TIMEOUT,
                store_widget_state=True,
                # nbclient keeps history in memory by default; a user's kernel writes a file.
                ipython_hist_file=str(home.history),
                # Outputs go into the history database too: the strictest setting to scan.
                extra_arguments=["--HistoryManager.db_log_output=True"],
                resources={"metadata": {"path": str(work)}},
            )
            stderr = home.log_dir / f"{copy.stem}.stderr"
            error = None
            with stderr.open("wb") as kernel_stderr:
                try:
                    client.execute(env=env, stdout=kernel_stderr, stderr=kernel_stderr)
                except Exception as exc:  # CellExecutionError, a timeout, a dead kernel
                    error = f"{type(exc).__name__}: {exc}"
            nbformat.write(notebook, copy)
            run.results[copy.name] = NotebookResult(copy.name, notebook, copy, stderr, error)
        run.wire_secrets = proxy.recorder.secrets()
        run.secret_kinds = dict(proxy.recorder.kinds)
        # Two independent lists: what crossed the wire, and what the emulator says it minted or
        # received (plus its project secret). The scan looks for both.
        run.issued = secrets_from_emulator(emulator)
        run.secrets = dict(run.wire_secrets)
        for label, value in run.issued.items():
            if value not in run.wire_secrets.values():
                run.secrets[f"{label} (emulator)"] = value
    run.test_process_log = process_log.getvalue()
    return run


_shared: dict[str, NotebookRun] = {}
_shared_lock = threading.Lock()


def shared_notebook_run(tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    """One run of every notebook in ``notebooks/`` per test session, against its own emulator."""
    with _shared_lock:
        if "run" not in _shared:
            home = KernelHome(tmp_path_factory.mktemp("notebook-run"))
            with Emulator() as emulator:
                _shared["run"] = run_notebooks(notebook_paths(), home, emulator)
        return _shared["run"]


def text_of(outputs: Iterable[Mapping[str, Any]], mime: str = "text/plain") -> str:
    """The text of stream outputs and of ``mime`` in display/execute results, joined."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        else:
            data = output.get("data", {})
            value = data.get(mime, "")
            parts.append("".join(value) if isinstance(value, list) else value)
    return "".join(parts)
