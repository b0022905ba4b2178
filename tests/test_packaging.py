"""The desktop integration files, the icons and the bundle recipe agree with the package."""

from __future__ import annotations

import ast
import configparser
import fnmatch
import importlib.util
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from types import ModuleType

import pytest

import faultlens
from faultlens.core import resources as res
from faultlens.core.review_file import SIDECAR_SUFFIX

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
RESOURCES = REPO / "resources"
APP_ID = "io.github.faultlens.FaultLens"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"
SPEC = PACKAGING / "faultlens.spec"


def _load(name: str) -> ModuleType:
    """Import packaging/NAME.py (a script folder, not a package) under a private name."""
    module_name = f"_faultlens_packaging_{name}"
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves string annotations through sys.modules[cls.__module__].
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


check_png = _load("check_png")
render_icons = _load("render_icons")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.fixture(scope="module")
def metainfo() -> ET.Element:
    return ET.parse(METAINFO).getroot()


# ---------------------------------------------------------------- .desktop
def test_desktop_entry_launches_the_gui_script(
    desktop_entry: configparser.SectionProxy, pyproject: dict
) -> None:
    gui_scripts = pyproject["project"]["gui-scripts"]
    exec_argv = desktop_entry["Exec"].split()
    assert exec_argv[0] in gui_scripts, "Exec must name the installed gui-script"
    assert gui_scripts[exec_argv[0]] == "faultlens.cli:gui_main"
    assert exec_argv[1:] == ["%f"], "gui_main opens one file given as its first argument"
    assert desktop_entry["TryExec"] == exec_argv[0]
    assert desktop_entry["Type"] == "Application"
    assert desktop_entry["Terminal"] == "false"


def test_desktop_entry_icon_mime_and_categories(desktop_entry: configparser.SectionProxy) -> None:
    assert desktop_entry["Icon"] == APP_ID
    assert "text/csv" in desktop_entry["MimeType"].split(";")
    categories = desktop_entry["Categories"].split(";")
    for wanted in ("Science", "Engineering", "DataVisualization", "Qt"):
        assert wanted in categories
    assert desktop_entry["Categories"].endswith(";")


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils absent")
def test_desktop_file_validates() -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


# ---------------------------------------------------------------- metainfo
def test_metainfo_ids_match_the_desktop_file_and_package(
    metainfo: ET.Element, pyproject: dict
) -> None:
    assert metainfo.tag == "component" and metainfo.get("type") == "desktop-application"
    assert metainfo.findtext("id") == APP_ID
    launchable = metainfo.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    binaries = {b.text for b in metainfo.iterfind("provides/binary")}
    project = pyproject["project"]
    assert binaries == set(project["scripts"]) | set(project["gui-scripts"])
    assert metainfo.findtext("metadata_license") == "CC0-1.0"
    assert metainfo.findtext("project_license") == project["license"]
    assert metainfo.findtext("name") == "FaultLens"
    assert metainfo.find("content_rating") is not None


def test_metainfo_newest_release_is_the_package_version(metainfo: ET.Element) -> None:
    releases = metainfo.findall("releases/release")
    assert releases, "metainfo lists no release"
    assert releases[0].get("version") == faultlens.__version__


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream absent")
def test_metainfo_validates() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- icons
@pytest.mark.parametrize("size", render_icons.SIZES)
def test_icon_png_has_its_size_and_content(size: int) -> None:
    png = RESOURCES / "icons" / render_icons.icon_file_name(size)
    stats = check_png.png_stats(png)
    assert (stats.width, stats.height) == (size, size)
    assert not stats.blank


def test_icon_pngs_are_rendered_from_the_current_svg(qapp, tmp_path: Path) -> None:
    """Fails when the SVG was edited and render_icons.py was not run again."""
    from PySide6.QtGui import QImage

    for fresh in render_icons.render_icons(res.resource_path(res.APP_ICON), tmp_path, (32, 128)):
        committed = QImage(str(RESOURCES / "icons" / fresh.name))
        rendered = QImage(str(fresh))
        assert committed.size() == rendered.size()
        a = committed.convertToFormat(QImage.Format.Format_RGBA8888).constBits().tobytes()
        b = rendered.convertToFormat(QImage.Format.Format_RGBA8888).constBits().tobytes()
        # Anti-aliasing may differ by a grey level or two between Qt versions; an edited
        # drawing moves whole shapes.
        mean_diff = sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)
        assert mean_diff < 2.0, f"{fresh.name} differs from the SVG by {mean_diff:.1f} levels"


def test_icon_corners_are_transparent() -> None:
    """The rounded tile leaves the corners see-through, so no square shows on a dark panel."""
    from PySide6.QtGui import QImage

    for size in render_icons.SIZES:
        image = QImage(str(RESOURCES / "icons" / render_icons.icon_file_name(size)))
        assert image.hasAlphaChannel()
        last = size - 1
        for x, y in ((0, 0), (last, 0), (0, last), (last, last)):
            assert image.pixelColor(x, y).alpha() == 0, f"{size} px corner ({x}, {y})"
        assert image.pixelColor(size // 2, size // 2).alpha() == 255


# ---------------------------------------------------------------- resources
def test_resources_reachable_through_importlib() -> None:
    icon = res.resource_path(res.APP_ICON)
    assert icon.read_bytes().lstrip().startswith(b"<?xml")
    assert res.resource_path("icons/faultlens-48.png").stat().st_size > 0
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        res.resource_path("no-such-file.txt")


def test_demo_files_reachable_through_importlib() -> None:
    recording = res.demo_recording_path()
    model = res.demo_model_path()
    assert recording.stat().st_size > 0 and model.stat().st_size > 0
    assert recording.parent == model.parent == res.resource_path(res.APP_ICON).parent


def test_package_data_patterns_cover_every_resource_file(pyproject: dict) -> None:
    """A wheel ships only what package-data names; a file outside the patterns would be
    present in a checkout and missing from an install."""
    patterns = pyproject["tool"]["setuptools"]["package-data"]["faultlens.resources"]
    for path in RESOURCES.rglob("*"):
        rel = path.relative_to(RESOURCES).as_posix()
        # A review sidecar is what opening the demo in a checkout leaves behind: user data,
        # deliberately not shipped.
        if path.is_dir() or "__pycache__" in rel or rel == "__init__.py":
            continue
        if rel.endswith(SIDECAR_SUFFIX):
            continue
        assert any(fnmatch.fnmatchcase(rel, p) for p in patterns), f"{rel} not in package-data"


# ---------------------------------------------------------------- bundle recipe
def _spec_resource_datas() -> list[tuple[str, str]]:
    """Run the spec's resource_datas() without PyInstaller: only its imports, the path
    constants and the function itself are executed."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))

    def wanted(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import):
            return True
        if isinstance(node, ast.ImportFrom):
            return not (node.module or "").startswith("PyInstaller")
        if isinstance(node, ast.Assign):
            return all(
                isinstance(t, ast.Name) and t.id in {"REPO", "RESOURCES"} for t in node.targets
            )
        return isinstance(node, ast.FunctionDef) and node.name in {
            "resource_datas",
            "resource_patterns",
        }

    keep = [node for node in tree.body if wanted(node)]
    namespace: dict = {"SPECPATH": str(PACKAGING)}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace["resource_datas"]()


def test_spec_bundles_exactly_what_the_wheel_ships(pyproject: dict) -> None:
    datas = {(Path(src).resolve(), Path(dest)) for src, dest in _spec_resource_datas()}
    patterns = pyproject["tool"]["setuptools"]["package-data"]["faultlens.resources"]
    expected = {
        (p.resolve(), Path("faultlens", "resources", p.relative_to(RESOURCES).parent))
        for p in RESOURCES.rglob("*")
        if p.is_file()
        and (
            p.name == "__init__.py"
            or any(
                fnmatch.fnmatchcase(p.relative_to(RESOURCES).as_posix(), pat) for pat in patterns
            )
        )
    }
    assert datas == expected
    names = {src.name for src, _ in datas}
    assert {"__init__.py", res.APP_ICON, "faultlens-16.png", res.DEMO_RECORDING} <= names
    assert not any(name.endswith(SIDECAR_SUFFIX) for name in names)


def test_spec_names_entry_point_and_plugins() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert '"launcher.py"' in text
    assert "PySide6.QtSvg" in text, "the svg imageformat/iconengine plugins need QtSvg"
    assert 'NAME = "faultlens"' in text


def test_launcher_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "launcher.py"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"faultlens {faultlens.__version__}"


def test_launcher_picks_the_gui_entry_by_program_name() -> None:
    from faultlens.cli import gui_main, main

    launcher = _load("launcher")
    assert launcher.entry_for("/opt/faultlens/faultlens-gui") is gui_main
    assert launcher.entry_for("faultlens-gui") is gui_main
    assert launcher.entry_for("/opt/faultlens/faultlens") is main
    assert launcher.entry_for("faultlens-gui.sh") is main
    assert f'"{launcher.GUI_NAME}"' in SPEC.read_text(encoding="utf-8")


def test_smoke_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash absent")
    subprocess.run([bash, "-n", str(PACKAGING / "smoke_bundle.sh")], check=True)


# ---------------------------------------------------------------- the screenshot check
def _write_png(path: Path, width: int, height: int, pixel: bytes) -> None:
    """A minimal RGBA PNG of one colour, written by hand (no Qt, no PIL)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + pixel * width for _ in range(height))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_check_png_rejects_a_blank_screenshot(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    _write_png(blank, 40, 25, b"\x30\x30\x30\xff")
    stats = check_png.png_stats(blank)
    assert (stats.width, stats.height, stats.colours) == (40, 25, 1)
    assert stats.blank
    assert check_png.main([str(blank), "--size", "40x25"]) == 1


def test_check_png_accepts_a_real_picture_and_checks_its_size(tmp_path: Path) -> None:
    icon = str(RESOURCES / "icons" / render_icons.icon_file_name(64))
    assert check_png.main([icon, "--size", "64x64"]) == 0
    assert check_png.main([icon, "--size", "1600x1000"]) == 1
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert check_png.main([str(broken)]) == 1
