"""The core must stay headless: importing it loads no Qt and no GUI module."""

import subprocess
import sys
import textwrap

CORE_MODULES = [
    "faultlens.core.recording",
    "faultlens.core.io",
    "faultlens.core.model",
    "faultlens.core.training",
    "faultlens.core.checkpoint",
    "faultlens.core.detection",
    "faultlens.core.evaluation",
    "faultlens.core.review",
    "faultlens.core.report",
    "faultlens.core.demo",
]


def test_core_imports_no_qt() -> None:
    code = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {CORE_MODULES!r}:
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


def test_cli_help_imports_no_qt() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from faultlens import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--help'])\n"
        "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"
