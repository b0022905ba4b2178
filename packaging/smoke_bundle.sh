#!/usr/bin/env bash
# Smoke test of a built bundle: does the frozen executable start, find its resources, read a
# recording, run the model, write a PDF report, and draw the main window on the demo?
#
#   bash packaging/smoke_bundle.sh dist/faultlens/faultlens
#
# Runs headless (QT_QPA_PLATFORM=offscreen) from an empty temporary directory, so nothing
# from the source tree or a virtual environment can stand in for a missing bundled file.
# Needs only bash, coreutils' timeout and a system python3 (standard library) for the PNG
# check. SMOKE_TIMEOUT (seconds, default 300) bounds each step; SMOKE_SKIP_GUI=1 skips the
# screenshot step (for a build machine without the GUI's system libraries).
set -euo pipefail

exe=${1:?usage: smoke_bundle.sh PATH/TO/BUNDLE/faultlens}
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
bundle=$(dirname "$exe")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
limit=${SMOKE_TIMEOUT:-300}
resources="$bundle/_internal/faultlens/resources"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export QT_QPA_PLATFORM=offscreen

fail() {
    echo "smoke: FAIL: $*" >&2
    exit 1
}

# run NAME CMD...: run with a time limit, keep stdout/stderr in $tmp/NAME.{out,err}, fail
# with the tail of stderr on a non-zero exit.
run() {
    local name=$1
    shift
    local start=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        tail -n 30 "$tmp/$name.err" >&2
        if [[ $rc -eq 124 || $rc -eq 137 ]]; then
            fail "$name: no exit within ${limit}s"
        fi
        fail "$name: exit status $rc"
    fi
    echo "smoke: ok   $name ($((SECONDS - start)) s)"
}

[[ -x $exe ]] || fail "$exe is not an executable file"
for f in demo_pump.csv demo_pump.flmodel faultlens.svg icons/faultlens-48.png __init__.py; do
    [[ -f $resources/$f ]] || fail "the bundle lacks faultlens/resources/$f"
done
[[ -L $bundle/faultlens-gui && $(readlink "$bundle/faultlens-gui") == faultlens ]] ||
    fail "faultlens-gui is not a symlink to faultlens"
for f in applications/io.github.faultlens.FaultLens.desktop \
    metainfo/io.github.faultlens.FaultLens.metainfo.xml \
    icons/hicolor/48x48/apps/io.github.faultlens.FaultLens.png \
    icons/hicolor/scalable/apps/io.github.faultlens.FaultLens.svg; do
    [[ -f $bundle/share/$f ]] || fail "the bundle lacks share/$f"
done
echo "smoke: ok   bundle layout"

run help "$exe" --help
grep -q "usage: faultlens" "$tmp/help.out" || fail "--help printed no usage line"

run version "$exe" --version
grep -q "^faultlens [0-9]" "$tmp/version.out" || fail "--version printed: $(cat "$tmp/version.out")"

run inspect "$exe" inspect "$resources/demo_pump.csv"
[[ -s $tmp/inspect.out ]] || fail "inspect printed nothing"

run inspect-json "$exe" inspect --json "$resources/demo_pump.csv"
"$python" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d, "empty summary"' \
    "$tmp/inspect-json.out" || fail "inspect --json did not print a JSON summary"

# A bad input must be a one-line error with exit status 2, not a traceback from a missing
# module in the bundle.
rc=0
timeout "$limit" "$exe" inspect "$tmp/nonexistent.csv" >/dev/null 2>"$tmp/bad.err" || rc=$?
[[ $rc -eq 2 ]] || { cat "$tmp/bad.err" >&2; fail "inspect of a missing file: exit $rc, expected 2"; }
grep -q "Traceback" "$tmp/bad.err" && fail "inspect of a missing file printed a traceback"
echo "smoke: ok   missing file -> exit 2"

# torch inference, matplotlib's PDF backend and the atomic writers, all inside the bundle.
run report "$exe" report "$resources/demo_pump.csv" --model "$resources/demo_pump.flmodel" \
    --no-review --out "$tmp/report.pdf" --events "$tmp/events.csv"
[[ $(head -c 5 "$tmp/report.pdf") == "%PDF-" ]] || fail "report.pdf is not a PDF"
[[ -s $tmp/events.csv ]] || fail "report wrote no event list"

if [[ ${SMOKE_SKIP_GUI:-0} == 1 ]]; then
    echo "smoke: skipped the GUI screenshot (SMOKE_SKIP_GUI=1)"
else
    run demo-screenshot "$exe" demo --screenshot "$tmp/shot.png"
    [[ -f $tmp/shot.png ]] || fail "demo --screenshot exited 0 but wrote no PNG"
    "$python" "$here/check_png.py" "$tmp/shot.png" --size 1600x1000 ||
        fail "the demo screenshot is not a 1600x1000 picture of the window"
fi

echo "smoke: PASS $exe ($(du -sh "$bundle" | cut -f1))"
