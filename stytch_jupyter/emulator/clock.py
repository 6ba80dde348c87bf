"""The emulator's clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta, timezone

# How far ahead the clock may run: beyond any expiry a test waits out (sessions last at most a
# year), and far inside what a datetime (year 9999) and a JWT's ``exp`` can hold.
MAX_OFFSET = timedelta(days=100 * 366)


def rfc3339(moment: datetime) -> str:
    """Stytch's timestamp form: UTC, microseconds, ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(timezone.utc) + offset

    def advance(self, seconds: float) -> datetime:
        """Move forward; ValueError (and no change) past ``MAX_OFFSET`` or for a bad number."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the clock moves forward by a finite number of seconds")
        with self._lock:
            room = (MAX_OFFSET - self._offset).total_seconds()
            if seconds > room:
                raise ValueError(
                    f"the clock runs at most {MAX_OFFSET.days} days ahead: "
                    f"advance it by {room:.0f} seconds or less, or reset it"
                )
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def offset(self) -> timedelta:
        """How far ahead of real time the clock runs."""
        with self._lock:
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
