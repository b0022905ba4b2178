import os
import stat

import pytest

from faultlens.core.atomic import atomic_open, atomic_write_text


def test_replaces_content_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_new_file_gets_the_umask_mode_not_0600(tmp_path, monkeypatch, umask, mode):
    from faultlens.core import atomic

    monkeypatch.setattr(atomic, "_UMASK", umask)  # the process umask, read once at import
    atomic_write_text(tmp_path / "new.txt", "x")
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == mode


def test_the_umask_read_at_import_is_the_process_umask():
    from faultlens.core import atomic

    current = os.umask(0)
    os.umask(current)
    assert current == atomic._UMASK


def test_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("x")
    target.chmod(0o664)
    atomic_write_text(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o664
