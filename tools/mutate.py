"""A small mutation tester: one change to a module at a time, then the tests that guard it.

    python tools/mutate.py stytch_jupyter/session/heartbeat.py tests/session/test_heartbeat.py
    python tools/mutate.py MODULE TEST... [--jobs 2] [--timeout 60] [--only 3,17]

Each mutant is one of: a comparison flipped (``<`` and ``<=``, ``==`` and ``!=``, ``is`` and
``is not``, ``in`` and ``not in``), an arithmetic operator swapped (``+ -``, ``* /``), ``and``
and ``or`` swapped, a ``not`` dropped, ``min`` and ``max`` swapped, a number moved by one,
``True``/``False`` flipped, a string changed, or a statement deleted (``pass`` instead; a
``return x`` becomes ``return None``). Docstrings and the arguments of logging calls are left
alone: what a log line says is not behaviour the tests pin (deleting a whole logging statement
is still a mutant). So are ``...`` bodies, type-only ``TypeVar`` lines and imports.

The mutant is written into a copy of the repository (never the working tree), and the given
tests run there with ``-x``; a failing run kills it, a run past ``--timeout`` counts as killed
(and is reported apart). Not run in CI: it takes minutes. Prints every survivor (line and
change) and the score.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("stytch_jupyter", "tests", "pyproject.toml")

COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.Mult,
}
NAME_SWAPS = {"min": "max", "max": "min"}
DELETABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Return)


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    description: str


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return isinstance(node.value.value, str)
    if isinstance(parent, ast.Expr):
        return _is_docstring(parent, parents)
    return False


def _in_logging_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    current: ast.AST | None = node
    while current is not None:
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            target = current.func.value
            if isinstance(target, ast.Name) and target.id == "logger":
                return True
        current = parents.get(current)
    return False


def _in_annotation(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    current: ast.AST | None = node
    while current is not None:
        parent = parents.get(current)
        if isinstance(parent, ast.arg) and parent.annotation is current:
            return True
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef) and parent.returns is current:
            return True
        if isinstance(parent, ast.AnnAssign) and parent.annotation is current:
            return True
        current = parent
    return False


def _skipped(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    if _is_docstring(node, parents) or _in_logging_call(node, parents):
        return True
    # ``...`` as a body (a Protocol's methods): replacing it with ``pass`` changes nothing.
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and node.value.value is Ellipsis
    ):
        return True
    if _in_annotation(node, parents):
        return True
    # ``T = TypeVar("T")``: only annotations use it, and they are never evaluated.
    current_: ast.AST | None = node
    while current_ is not None:
        if isinstance(current_, ast.Assign) and ast.unparse(current_.value).startswith("TypeVar("):
            return True
        current_ = parents.get(current_)
    # ``from __future__`` and the imports: breaking them only proves the module imports.
    current: ast.AST | None = node
    while current is not None:
        if isinstance(current, ast.Import | ast.ImportFrom):
            return True
        if isinstance(current, ast.If) and ast.unparse(current.test) == "TYPE_CHECKING":
            return True
        current = parents.get(current)
    return False


def mutations(tree: ast.Module) -> Iterator[tuple[ast.AST, str, object]]:
    """(node, description, how) for every mutation point, in a stable order."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if _skipped(node, parents):
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_SWAPS:
                    new = COMPARE_SWAPS[type(op)].__name__
                    yield node, f"{type(op).__name__} -> {new}", ("compare", i)
        elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            new = BINOP_SWAPS[type(node.op)].__name__
            yield node, f"{type(node.op).__name__} -> {new}", ("binop",)
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINOP_SWAPS:
            new = BINOP_SWAPS[type(node.op)].__name__
            yield node, f"{type(node.op).__name__}= -> {new}=", ("augop",)
        elif isinstance(node, ast.BoolOp):
            yield node, "and <-> or", ("boolop",)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop not", ("not",)
        elif isinstance(node, ast.Name) and node.id in NAME_SWAPS:
            yield node, f"{node.id} -> {NAME_SWAPS[node.id]}", ("name",)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                yield node, f"{value} -> {not value}", ("const",)
            elif isinstance(value, int | float):
                yield node, f"{value!r} -> {value + 1!r}", ("const",)
            elif isinstance(value, str) and not isinstance(parents.get(node), ast.JoinedStr):
                yield node, f"{value[:30]!r} -> 'XX'", ("const",)
        if isinstance(node, DELETABLE):
            if isinstance(node, ast.Return):
                if node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None
                ):
                    yield node, "return x -> return None", ("return",)
            else:
                yield node, f"delete `{ast.unparse(node)[:50]}`", ("delete",)


def _apply(node: ast.AST, how: object) -> ast.AST | None:
    """Mutate ``node`` in place; returns a replacement statement when it must be swapped."""
    kind = how[0]  # type: ignore[index]
    if kind == "compare":
        assert isinstance(node, ast.Compare)
        i = how[1]  # type: ignore[index]
        node.ops[i] = COMPARE_SWAPS[type(node.ops[i])]()
    elif kind in ("binop", "augop"):
        node.op = BINOP_SWAPS[type(node.op)]()  # type: ignore[attr-defined]
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        assert isinstance(node, ast.UnaryOp)
        return node.operand
    elif kind == "name":
        assert isinstance(node, ast.Name)
        node.id = NAME_SWAPS[node.id]
    elif kind == "const":
        assert isinstance(node, ast.Constant)
        value = node.value
        if isinstance(value, bool):
            node.value = not value
        elif isinstance(value, int | float):
            node.value = value + 1
        else:
            node.value = "XX"
    elif kind == "return":
        assert isinstance(node, ast.Return)
        node.value = None
    elif kind == "delete":
        return ast.Pass()
    return None


def mutated_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    for i, (node, _, how) in enumerate(mutations(tree)):
        if i != index:
            continue
        replacement = _apply(node, how)
        if replacement is not None:
            _replace(tree, node, replacement)
        return ast.unparse(ast.fix_missing_locations(tree))
    raise IndexError(index)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = copy.copy(new)
                        ast.copy_location(value[i], old)
                        return
            elif value is old:
                setattr(parent, field, new)
                return


def _copy_repo(into: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)


def _run_tests(workdir: Path, tests: list[str], timeout: float) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(workdir)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        result = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if result.returncode == 0 else "killed"


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("module", help="the module to mutate, relative to the repository")
    cli.add_argument("tests", nargs="+", help="the test files (or node ids) that guard it")
    cli.add_argument("--jobs", type=int, default=1)
    cli.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant")
    cli.add_argument("--only", default="", help="comma-separated mutant indices")
    args = cli.parse_args()

    source = (ROOT / args.module).read_text(encoding="utf-8")
    points = [
        Mutant(i, getattr(node, "lineno", 0), description)
        for i, (node, description, _) in enumerate(mutations(ast.parse(source)))
    ]
    if args.only:
        wanted = {int(i) for i in args.only.split(",")}
        points = [m for m in points if m.index in wanted]

    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        workers = [Path(scratch) / f"w{i}" for i in range(args.jobs)]
        for worker in workers:
            worker.mkdir()
            _copy_repo(worker)
            if _run_tests(worker, args.tests, args.timeout * 3) != "survived":
                print("the tests fail on the unmutated code: fix that first", file=sys.stderr)
                return 2
        free: list[Path] = list(workers)

        def run(mutant: Mutant) -> tuple[Mutant, str]:
            worker = free.pop()
            try:
                target = worker / args.module
                target.write_text(mutated_source(source, mutant.index), encoding="utf-8")
                return mutant, _run_tests(worker, args.tests, args.timeout)
            finally:
                (worker / args.module).write_text(source, encoding="utf-8")
                free.append(worker)

        outcomes: dict[str, list[Mutant]] = {"killed": [], "timeout": [], "survived": []}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for mutant, outcome in pool.map(run, points):
                outcomes[outcome].append(mutant)
                mark = {"killed": ".", "timeout": "T", "survived": "S"}[outcome]
                print(mark, end="", flush=True)
        print()

    for mutant in sorted(outcomes["survived"], key=lambda m: m.line):
        print(f"survived #{mutant.index} {args.module}:{mutant.line}: {mutant.description}")
    total = len(points)
    dead = len(outcomes["killed"]) + len(outcomes["timeout"])
    score = 100.0 * dead / total if total else 100.0
    print(
        f"{args.module}: {dead}/{total} killed ({score:.1f}%), "
        f"{len(outcomes['timeout'])} by timeout, {len(outcomes['survived'])} survived"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
