"""Look for secrets (session tokens, JWTs, OTP codes, magic-link tokens, passwords, the project
secret) where a notebook user's work ends up: saved notebooks, IPython's history database, logs.

``find_secrets(secrets, files=..., texts=...)`` returns a ``Finding`` per place a secret occurs;
``assert_no_secrets`` fails a test with them listed. A ``Finding`` names a secret only by a label
and a short prefix, so a failing scan does not itself leak what it found.

Each secret is searched as written and as it would look JSON-escaped, percent-encoded,
HTML-escaped and (for long ones) base64-encoded at any alignment, e.g. inside a logged
``Authorization: Basic`` header. Notebooks are searched as raw text and as decoded JSON (every
string of every cell, output, attachment and metadata entry, widget state included; base64
attachments and widget buffers are decoded too, images excepted). SQLite files (any name) are
searched table by table, and their raw bytes (deleted rows linger in free pages) and ``-wal`` /
``-journal`` files too. Any other file is searched as bytes. A folder means every file under it.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

# An OTP code is 6 digits: the shortest secret this project has. Shorter strings would match by
# chance (and a scan that cannot fail proves nothing), so they are refused, loudly.
MIN_SECRET_LENGTH = 6
# Base64 forms of a short secret are short too, and would match random base64 (images) by chance.
MIN_BASE64_SECRET_LENGTH = 16
# One place full of a secret (a log line repeated a thousand times) is reported this many times.
MAX_FINDINGS_PER_SECRET_AND_FILE = 20

SQLITE_MAGIC = b"SQLite format 3\x00"
# Binary mime types whose base64 payloads are not decoded (their raw text still is searched).
_UNDECODED_MIME_PREFIXES = ("image/", "audio/", "video/", "font/")


class SecretScanError(ValueError):
    """The scan was asked something it cannot answer honestly (a too-short secret, no file)."""


@dataclass(frozen=True)
class Finding:
    """Where a secret was found. ``secret`` is a label and short prefix, never the secret."""

    secret: str
    path: str
    location: str
    encoding: str = "plain"

    def __str__(self) -> str:
        how = "" if self.encoding == "plain" else f" ({self.encoding})"
        return f"{self.secret} in {self.path} at {self.location}{how}"


def secret_prefix(secret: str) -> str:
    """A prefix short enough to show: 2 characters of an OTP, at most 8 of anything."""
    shown = max(2, min(8, len(secret) // 4))
    return f"{secret[:shown]}… ({len(secret)} chars)"


@dataclass(frozen=True)
class _Needle:
    label: str
    encoding: str
    value: bytes


class _Secret:
    def __init__(self, label: str, value: str) -> None:
        self.value = value
        self.description = f"{label} {secret_prefix(value)}"
        forms: dict[str, str] = {
            "plain": value,
            "json-escaped": json.dumps(value)[1:-1],
            "percent-encoded": quote(value, safe=""),
            "html-escaped": html.escape(value),
        }
        seen: set[bytes] = set()
        self.needles: list[_Needle] = []
        for encoding, form in forms.items():
            self._add(encoding, form.encode("utf-8"), seen)
        if len(value) >= MIN_BASE64_SECRET_LENGTH:
            for core in _base64_cores(value.encode("utf-8")):
                self._add("base64", core, seen)

    def _add(self, encoding: str, needle: bytes, seen: set[bytes]) -> None:
        if needle not in seen:
            seen.add(needle)
            self.needles.append(_Needle(self.description, encoding, needle))

    def find_in(self, haystack: bytes) -> str | None:
        """The encoding under which this secret occurs in ``haystack``, if it does."""
        for needle in self.needles:
            if needle.value in haystack:
                return needle.encoding
        return None

    def offsets_in(self, haystack: bytes) -> Iterator[tuple[int, str]]:
        for needle in self.needles:
            start = haystack.find(needle.value)
            while start != -1:
                yield start, needle.encoding
                start = haystack.find(needle.value, start + 1)


def _base64_cores(raw: bytes) -> Iterator[bytes]:
    # Embedded in a longer base64 text, a secret is encoded at one of three alignments; the
    # characters that straddle its ends depend on the neighbours, so only the middle is searched.
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + raw)
        # Only characters whose 6 bits all come from the secret: from the first one that starts
        # at or after its first bit to the last one that ends at or before its last bit.
        head = -(-8 * shift // 6)
        end = 8 * (shift + len(raw)) // 6
        core = encoded[head:end]
        if len(core) >= 8:
            yield core
            yield core.replace(b"+", b"-").replace(b"/", b"_")  # the URL-safe alphabet


def _normalise_secrets(secrets: Iterable[str] | Mapping[str, str]) -> list[_Secret]:
    labelled = (
        list(secrets.items())
        if isinstance(secrets, Mapping)
        else [("secret", value) for value in secrets]
    )
    result: list[_Secret] = []
    seen: set[str] = set()
    for label, value in labelled:
        if not isinstance(value, str):
            raise SecretScanError(f"{label}: a secret must be a str, not {type(value).__name__}")
        if len(value) < MIN_SECRET_LENGTH:
            raise SecretScanError(
                f"{label}: a secret of {len(value)} characters is too short to scan for "
                f"(at least {MIN_SECRET_LENGTH}); an empty or tiny value usually means the test "
                "lost the real one"
            )
        if value not in seen:
            seen.add(value)
            result.append(_Secret(label, value))
    return result


class _Scan:
    def __init__(self, secrets: list[_Secret]) -> None:
        self.secrets = secrets
        self.findings: list[Finding] = []
        self._counts: dict[tuple[str, str], int] = {}

    def report(self, secret: _Secret, path: str, location: str, encoding: str) -> None:
        key = (secret.value, path)
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        if count < MAX_FINDINGS_PER_SECRET_AND_FILE:
            self.findings.append(Finding(secret.description, path, location, encoding))

    def found_in(self, path: str) -> set[str]:
        return {s.value for s in self.secrets if self._counts.get((s.value, path))}

    # -- plain bytes ---------------------------------------------------------------------

    def scan_bytes(
        self, data: bytes, path: str, *, where: str = "", skip: set[str] | None = None
    ) -> None:
        """Each occurrence, located by line (text) or byte offset (binary)."""
        binary = b"\x00" in data[:4096]
        for secret in self.secrets:
            if skip and secret.value in skip:
                continue
            lines_seen: set[int] = set()
            for offset, encoding in secret.offsets_in(data):
                if binary:
                    location = f"byte {offset}"
                else:
                    line = data.count(b"\n", 0, offset) + 1
                    if line in lines_seen:
                        continue
                    lines_seen.add(line)
                    location = f"line {line}"
                self.report(secret, path, f"{where}{location}", encoding)

    def scan_value(self, value: bytes | str, path: str, location: str) -> None:
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        for secret in self.secrets:
            encoding = secret.find_in(data)
            if encoding is not None:
                self.report(secret, path, location, encoding)

    # -- files ---------------------------------------------------------------------------

    def scan_file(self, file: Path) -> None:
        path = str(file)
        data = file.read_bytes()
        if data.startswith(SQLITE_MAGIC):
            self.scan_sqlite(file, path)
            self.scan_bytes(data, path, where="raw ", skip=self.found_in(path))
            for suffix in ("-wal", "-journal"):
                sidecar = Path(path + suffix)
                if sidecar.is_file():
                    self.scan_bytes(sidecar.read_bytes(), str(sidecar))
        elif file.suffix == ".ipynb":
            self.scan_notebook(data, path)
        else:
            self.scan_bytes(data, path)

    def scan_notebook(self, data: bytes, path: str) -> None:
        try:
            document = json.loads(data)
        except ValueError:
            self.scan_bytes(data, path, where="unparsable notebook, ")
            return
        self.walk_json(document, path, "")
        # The raw text catches what a decoder would normalise away; it only adds what the
        # structured walk did not already find in this file.
        self.scan_bytes(data, path, where="raw JSON ", skip=self.found_in(path))

    def walk_json(self, node: Any, path: str, location: str, mime: str = "") -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                key = str(key)
                self.scan_value(key, path, f"{location} (key {key!r})")
                child_mime = key if "/" in key else mime
                self.walk_json(value, path, f"{location}[{key!r}]", child_mime)
        elif isinstance(node, list):
            if node and all(isinstance(item, str) for item in node):
                # nbformat stores multi-line text as a list of lines: search it joined.
                self.scan_string("".join(node), path, location, mime)
            else:
                for index, item in enumerate(node):
                    self.walk_json(item, path, f"{location}[{index}]", mime)
        elif isinstance(node, str):
            self.scan_string(node, path, location, mime)

    def scan_string(self, text: str, path: str, location: str, mime: str) -> None:
        self.scan_value(text, path, location or "(document)")
        decoded = _maybe_base64(text, mime, location)
        if decoded is not None:
            self.scan_value(decoded, path, f"{location} (base64-decoded)")
        # A JSON document inside a string (e.g. a widget message kept as text): decode and walk.
        stripped = text.lstrip()
        if stripped[:1] in ("{", "[") and len(stripped) > MIN_SECRET_LENGTH:
            try:
                inner = json.loads(text)
            except ValueError:
                return
            if isinstance(inner, (dict, list)):
                self.walk_json(inner, path, f"{location} (as JSON)", mime)

    def scan_sqlite(self, file: Path, path: str) -> None:
        uri = f"{file.resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        try:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'
                cursor = connection.execute(f"SELECT * FROM {quoted}")
                columns = [description[0] for description in cursor.description]
                for row_number, row in enumerate(cursor, start=1):
                    for column, value in zip(columns, row, strict=True):
                        if isinstance(value, (str, bytes)):
                            where = f"table {table}, row {row_number}, column {column}"
                            self.scan_value(value, path, where)
        finally:
            connection.close()


def _maybe_base64(text: str, mime: str, location: str) -> bytes | None:
    """Decoded bytes of an attachment or widget buffer; None for anything else or an image."""
    if mime.startswith(_UNDECODED_MIME_PREFIXES):
        return None
    if "['attachments']" not in location and "['buffers']" not in location:
        return None
    compact = "".join(text.split())
    if len(compact) < 8:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            return None


def _expand(files: Iterable[Path | str]) -> Iterator[Path]:
    for item in files:
        file = Path(item)
        if file.is_dir():
            yield from sorted(p for p in file.rglob("*") if p.is_file())
        elif file.is_file():
            yield file
        else:
            # A scan of a file that is not there passes vacuously: make that a loud error.
            raise SecretScanError(f"nothing to scan at {file}")


def find_secrets(
    secrets: Iterable[str] | Mapping[str, str],
    *,
    files: Iterable[Path | str] = (),
    texts: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every place one of ``secrets`` occurs in ``files`` (folders: every file under them) and
    ``texts`` (label → text, e.g. captured output or a page's HTML).

    ``secrets`` may be a mapping label → secret (``{"session_jwt": jwt}``) for clearer findings.
    Raises ``SecretScanError`` for a secret shorter than ``MIN_SECRET_LENGTH`` or a missing file.
    """
    scan = _Scan(_normalise_secrets(secrets))
    for file in _expand(files):
        scan.scan_file(file)
    for label, text in (texts or {}).items():
        scan.scan_bytes(text.encode("utf-8", "surrogatepass"), label)
    return scan.findings


def format_findings(findings: Iterable[Finding]) -> str:
    return "\n".join(f"  - {finding}" for finding in findings)


def assert_no_secrets(
    secrets: Iterable[str] | Mapping[str, str],
    *,
    files: Iterable[Path | str] = (),
    texts: Mapping[str, str] | None = None,
) -> None:
    """Fail (``AssertionError``) listing every finding; the message shows only prefixes."""
    findings = find_secrets(secrets, files=files, texts=texts)
    if findings:
        raise AssertionError(f"{len(findings)} secret leak(s) found:\n{format_findings(findings)}")


# -- what the emulator issued or received -------------------------------------------------------


class OutboxSource(Protocol):
    """``Emulator`` or ``EmulatorControl``: anything that lists what the emulator issued."""

    def issued(self) -> dict[str, list[str]]: ...


def secrets_from_emulator(control: OutboxSource) -> dict[str, str]:
    """Every secret the emulator minted or received (session tokens, JWTs, OTP codes, magic-link
    tokens, passwords: its ``issued()`` list), and its project secret."""
    found: dict[str, str] = {}
    for kind, values in control.issued().items():
        for number, value in enumerate(values, start=1):
            if value and value not in found.values():
                found[f"{kind.rstrip('s')} #{number}"] = value
    secret = getattr(control, "secret", None)
    if isinstance(secret, str) and secret:
        found["project secret"] = secret
    return found


def collect_emulator_secrets(
    emulator: OutboxSource | None = None,
    *,
    extra: Iterable[str] | Mapping[str, str] = (),
) -> dict[str, str]:
    """The emulator's secrets (``secrets_from_emulator``) plus ``extra`` (passwords a test set,
    tokens it saw), as label → secret for ``find_secrets``."""
    collected = secrets_from_emulator(emulator) if emulator is not None else {}
    pairs = (
        list(extra.items())
        if isinstance(extra, Mapping)
        else [(f"secret #{n}", value) for n, value in enumerate(extra, start=1)]
    )
    for label, value in pairs:
        if value not in collected.values():
            collected[label] = value
    return collected
