"""The core must stay headless: importing it loads no Qt and no GUI module.

The import graph itself is checked statically by import-linter (``make test`` runs
``lint-imports`` with the contracts in pyproject.toml); this test checks what actually gets
loaded when every core module is imported, found by walking the package.
"""

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.slow
def test_core_imports_no_qt() -> None:
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import faultlens.core
        names = [m.name for m in pkgutil.walk_packages(faultlens.core.__path__, "faultlens.core.")]
        assert len(names) > 20, names
        for name in names:
            importlib.import_module(name)
        bad = sorted(m for m in sys.modules
                     if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6")
                     or m.startswith("faultlens.gui"))
        print(",".join(bad))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"core pulled in GUI modules: {out}"


def test_cli_help_and_version_import_no_engine_and_no_qt() -> None:
    # `faultlens --help` must stay fast (well under 0.3 s): parsers are built from
    # faultlens.core.options, and each command imports the engine only when it runs.
    code = textwrap.dedent(
        """
        import sys, contextlib, io
        from faultlens import cli
        for argv in (["--help"], ["--version"], *([c, "--help"] for c in
                     ("inspect", "train", "scan", "evaluate", "report", "gui", "demo"))):
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                cli.main(argv)
        heavy = ("torch", "pandas", "numpy", "matplotlib", "PySide6", "pyqtgraph", "shiboken6")
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"faultlens --help imported {out}"
