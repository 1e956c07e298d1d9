"""Mutation testing of the security checks: ``python -m bench.mutation [--sample N]``.

Each mutant changes one operator of one line of a core or front-end module (a comparison
flipped, ``and``/``or`` swapped, ``all``/``any`` swapped, ``not`` dropped, a ``raise`` or a
``return`` of a refusal removed, a boolean constant inverted), in a scratch copy of the
tree; the fast test files covering that module then run with ``-x``. A mutant no test
kills is a survivor: a check whose removal nothing notices (STYLE.md 15). The report lists
the kill rate and every survivor with its file, line and change.

Not part of ``make test`` (minutes of CPU); ``make mutation`` runs it.
"""

from __future__ import annotations

import argparse
import ast
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Module -> the test files that should notice any change to its checks.
TARGETS: dict[str, list[str]] = {
    "logto_guard/_core/validator.py": [
        "tests/test_validator.py",
        "tests/test_attacks.py",
        "tests/test_policy.py",
        "tests/test_warm_path.py",
        "tests/test_inspect_agrees.py",
        "tests/test_organizations.py",
        "tests/test_organization_tokens.py",
    ],
    "logto_guard/_core/claims.py": [
        "tests/test_claims.py",
        "tests/test_validator.py",
        "tests/test_inspect_agrees.py",
    ],
    "logto_guard/_core/authenticator.py": [
        "tests/test_authenticator.py",
        "tests/test_refusal_path.py",
        "tests/test_organizations.py",
        "tests/test_organization_guards.py",
        "tests/test_organization_tokens.py",
        "tests/test_policy.py",
        "tests/test_startup.py",
        "tests/test_warm_path.py",
    ],
    "logto_guard/_core/key_keeping.py": ["tests/test_startup.py", "tests/test_jwks_status.py"],
    "logto_guard/_core/rfc6750.py": [
        "tests/test_rfc6750.py",
        "tests/test_refusal_path.py",
        "tests/test_fastapi.py",
        "tests/test_refusal_writers.py",
    ],
    "logto_guard/_core/jwks_cache.py": [
        "tests/test_jwks.py",
        "tests/test_jwks_status.py",
        "tests/test_warm_path.py",
        "tests/integration/test_jwks_faults.py",
    ],
    "logto_guard/_core/jwks_fetch.py": [
        "tests/test_jwks.py",
        "tests/test_diagnostics.py",
        "tests/integration/test_jwks_faults.py",
    ],
    "logto_guard/_core/jwks_keeper.py": ["tests/test_startup.py", "tests/test_jwks.py"],
    "logto_guard/_core/trusted_keys.py": ["tests/test_jwks.py", "tests/test_attacks.py"],
    "logto_guard/_core/jws.py": [
        "tests/test_jws.py",
        "tests/test_validator.py",
        "tests/test_attacks.py",
    ],
    "logto_guard/_core/signature.py": ["tests/test_signature.py", "tests/test_attacks.py"],
    "logto_guard/_mcp/http.py": ["tests/test_mcp.py"],
    "logto_guard/asgi.py": [
        "tests/test_asgi.py",
        "tests/test_asgi_edges.py",
        "tests/test_policy.py",
    ],
}
_FLIP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    change: str
    index: int  # which candidate node of the module (in ast.walk order)


def _equivalent(tree: ast.AST) -> set[int]:
    """Nodes whose mutants cannot change behaviour: ``@overload`` stubs (types only; their
    defaults are never used) and ``slots=`` of a dataclass (layout, not behaviour)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list
        ):
            skipped |= {id(inner) for inner in ast.walk(node)}
        elif isinstance(node, ast.keyword) and node.arg == "slots":
            skipped.add(id(node.value))
    return skipped


def _candidates(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found: list[tuple[ast.AST, str]] = []
    skipped = _equivalent(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            found.append((node, f"{type(node.ops[0]).__name__} -> flipped"))
        elif isinstance(node, ast.BoolOp):
            found.append((node, f"{type(node.op).__name__} -> swapped"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((node, "not dropped"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("all", "any"):
                found.append((node, f"{node.func.id} -> swapped"))
        elif isinstance(node, ast.Raise):
            found.append((node, "raise removed"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            found.append((node, f"{node.value} -> {not node.value}"))
    return found


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            visited: ast.AST = super().visit(node)
            return visited
        if isinstance(node, ast.Compare):
            node.ops[0] = _FLIP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            operand: ast.AST = node.operand
            return operand
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            node.func.id = "any" if node.func.id == "all" else "all"
        elif isinstance(node, ast.Raise):
            return ast.Pass()
        elif isinstance(node, ast.Constant):
            node.value = not node.value
        return node


def mutants() -> list[Mutant]:
    found = []
    for path in TARGETS:
        tree = ast.parse((ROOT / path).read_text())
        for index, (node, change) in enumerate(_candidates(tree)):
            found.append(Mutant(path, getattr(node, "lineno", 0), change, index))
    return found


def mutate(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    node, _ = _candidates(tree)[mutant.index]
    return ast.unparse(ast.fix_missing_locations(_Apply(node).visit(tree)))


def run(mutant: Mutant, scratch: Path) -> bool:
    """True when a test killed ``mutant``."""
    original = (ROOT / mutant.path).read_text()
    target = scratch / mutant.path
    target.write_text(mutate(original, mutant))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-x",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                *TARGETS[mutant.path],
            ],
            cwd=scratch,
            capture_output=True,
            timeout=300,
            check=False,
            env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin", "HOME": str(scratch)},
        )
        return done.returncode != 0
    except subprocess.TimeoutExpired:
        return True  # a hang is noticed too
    finally:
        target.write_text(original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="run N random mutants (0: all)")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    todo = mutants()
    if args.sample:
        todo = random.Random(args.seed).sample(todo, min(args.sample, len(todo)))
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "tree"
        shutil.copytree(ROOT / "logto_guard", scratch / "logto_guard")
        shutil.copytree(ROOT / "tests", scratch / "tests")
        shutil.copytree(ROOT / "demo_api", scratch / "demo_api")
        shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
        started, survivors = time.monotonic(), []
        for number, mutant in enumerate(todo, 1):
            killed = run(mutant, scratch)
            if not killed:
                survivors.append(mutant)
            print(
                f"[{number}/{len(todo)}] {'killed  ' if killed else 'SURVIVED'} "
                f"{mutant.path}:{mutant.line} {mutant.change}",
                flush=True,
            )
    kills = len(todo) - len(survivors)
    print(
        f"\n{kills}/{len(todo)} mutants killed ({100 * kills / max(1, len(todo)):.1f}%) "
        f"in {time.monotonic() - started:.0f} s"
    )
    for mutant in survivors:
        print(f"survivor: {mutant.path}:{mutant.line} {mutant.change}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
