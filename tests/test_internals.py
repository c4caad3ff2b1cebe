"""The Whoosh searchkit was proven against is the one it runs with, quietly."""

from __future__ import annotations

import os
import subprocess
import sys


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_import_prints_nothing_even_when_whoosh_is_compiled_afresh(tmp_path):
    # An empty bytecode cache makes Python compile Whoosh's and jieba's sources,
    # which is when their invalid escape sequences are reported.
    result = _python("import searchkit, searchkit.cli, searchkit.shell",
                     PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_another_whoosh_is_refused_with_the_version_needed(tmp_path):
    fake = tmp_path / "whoosh"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "__version__ = (2, 8, 0)\n"
        "def versionstring():\n    return '2.8.0'\n", encoding="utf-8")
    result = _python("import searchkit", PYTHONPATH=os.pathsep.join(
        [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    assert result.returncode != 0
    assert "searchkit needs Whoosh 2.7.4, found 2.8.0" in result.stderr.strip().splitlines()[-1]


def test_only_internals_touch_private_parts():
    """Outside searchkit/internals/, no module reaches into another object's private
    parts (``thing._name``, ``from whoosh... import _name``): Whoosh's are used in that one
    package only, whose version is pinned, and everything else calls its named helpers."""
    import ast
    from pathlib import Path

    import searchkit

    allowed = {("os", "_exit")}  # forked workers leave without running the parent's clean-up
    offenders = []
    for path in sorted(Path(searchkit.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                if owner not in ("self", "cls") and (owner, node.attr) not in allowed:
                    offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
                offenders += [f"{path.name}:{node.lineno}: {alias.name}"
                              for alias in node.names if alias.name.startswith("_")]
    assert offenders == []
