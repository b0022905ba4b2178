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
    "faultlens.core.scan",
    "faultlens.core.events",
    "faultlens.core.attribution",
    "faultlens.core.event_files",
    "faultlens.core.predictions",
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
