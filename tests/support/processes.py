"""The processes a process has started, from /proc (Linux): zombies (unreaped) included."""

from __future__ import annotations

from pathlib import Path


def children_of(pid: int) -> set[int]:
    """The ids of the processes whose parent is ``pid``, zombies included."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after it.
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found
