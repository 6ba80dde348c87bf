"""List every use of another object's ``_private`` member across files in ``stytch_jupyter``.

A use is ``x._name`` where ``x`` is not ``self``/``cls``/``super()`` (``self._a._b`` counts, for
``_b``). It is allowed only when ``_name`` is defined in the same file (a def, a class, or an
assignment to ``self._name``): a module may share privates between its own classes, never
with another module's. Dunders and names from the standard library's documented private
API we rely on (``sys._getframe``-like) are listed in ``ALLOWED``.

    python tools/private_access.py          # exit 1 and one line per use, if any
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stytch_jupyter"

# Other libraries' names with no public equivalent (argparse, traitlets, keyring's "was a
# backend set or resolved in this process"), IPython's display hooks, and namedtuple's
# documented ``_replace``.
ALLOWED = {
    "_keyring_backend",
    "_actions",
    "_SubParsersAction",
    "_trait_notifiers",
    "_repr_mimebundle_",
    "_repr_html_",
    "_replace",
}


def defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def is_own(value: ast.expr) -> bool:
    if isinstance(value, ast.Name) and value.id in ("self", "cls"):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own = defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in ALLOWED:
            continue
        if is_own(node.value) or name in own:
            continue
        where = path.relative_to(PACKAGE.parent)
        found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def main() -> int:
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in uses(path)]
    for line in found:
        print(line)
    print(f"{len(found)} use(s) of another module's private members", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
