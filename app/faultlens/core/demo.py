"""A deterministic demo recording of a centrifugal pump rig with labelled fault episodes.

The rig: an induction motor drives a centrifugal pump through a discharge valve. The
operator changes the speed setpoint and the valve opening every 7-30 minutes, so the
normal operating point moves over a wide range; everything else follows from it:

- flow ~ speed x valve^0.7, discharge pressure ~ speed^2 (higher with the valve closed),
  suction pressure falls with flow^2, motor current follows the hydraulic power, the
  supply voltage sags a little with current,
- vibration RMS (drive-end and non-drive-end accelerometers) grows with speed^2,
- bearing temperature follows the heat input through a first-order lag (tau 10 min)
  on top of a slowly varying ambient.

Fault episodes (label column ``label``, normal rows ``normal``), each type several times,
placed in every quarter of the recording so a time split has all of them on both sides:

- ``bearing_wear``: drive-end vibration rises (and gets spiky), the bearing heats up,
- ``cavitation``: suction and flow drop with bursty fluctuations, noisy vibration,
- ``valve_blockage``: the valve chokes: pressure up, flow down, current up,
- ``sensor_drift``: one sensor's reading drifts away from the physics of the others,
- ``stuck_sensor``: one sensor's reading freezes (no noise at all).

Faults ramp in, and their size is comparable to normal operating-point changes, so no
single threshold on one channel finds them; the relations between channels do.

``python -m faultlens.core.demo OUT.csv [--rows N] [--seed S]`` writes the CSV.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from faultlens.core.atomic import atomic_open

NORMAL = "normal"
FAULT_TYPES = ("bearing_wear", "cavitation", "valve_blockage", "sensor_drift", "stuck_sensor")
CHANNELS = (
    "motor_current_A",
    "supply_voltage_V",
    "motor_speed_rpm",
    "vibration_de_mm_s",
    "vibration_nde_mm_s",
    "suction_pressure_bar",
    "discharge_pressure_bar",
    "flow_rate_m3h",
    "bearing_temp_C",
)
# Decimals written per channel: about the resolution of such sensors.
_DECIMALS = {
    "motor_current_A": 2,
    "supply_voltage_V": 1,
    "motor_speed_rpm": 0,
    "vibration_de_mm_s": 3,
    "vibration_nde_mm_s": 3,
    "suction_pressure_bar": 3,
    "discharge_pressure_bar": 3,
    "flow_rate_m3h": 2,
    "bearing_temp_C": 2,
}
DEFAULT_ROWS = 20_000
START = np.datetime64("2024-03-04T06:00:00", "s")
FAULT_FRACTION = 0.10
_WARMUP_ROWS = 300  # the first five minutes are always normal
_RATED_RPM = 2950.0
# Sensor faults alternate between two channels each, so every channel's fault occurs in
# both halves of the recording (a model can learn it on one half and meet it on the other).
_DRIFTABLE = ("discharge_pressure_bar", "flow_rate_m3h")
_STICKABLE = ("flow_rate_m3h", "vibration_de_mm_s")


@dataclass(frozen=True)
class FaultEpisode:
    """One labelled fault: rows ``start``..``end-1``; ``channel`` for sensor faults."""

    kind: str
    start: int
    end: int
    channel: str | None = None


def plan_episodes(rows: int, seed: int = 0) -> list[FaultEpisode]:
    """Where the faults go: one episode of every type in each of up to four segments."""
    rng = np.random.default_rng([seed, 1])
    rounds = int(np.clip(rows // 5000, 1, 4))
    usable = rows - _WARMUP_ROWS
    mean_len = FAULT_FRACTION * rows / (rounds * len(FAULT_TYPES))
    segment = usable / rounds
    slot = segment / len(FAULT_TYPES)
    episodes: list[FaultEpisode] = []
    for r in range(rounds):
        for k, kind in enumerate(rng.permutation(FAULT_TYPES)):
            length = int(max(40, min(slot * 0.6, mean_len * rng.uniform(0.8, 1.25))))
            lo = _WARMUP_ROWS + int(r * segment + k * slot)
            start = lo + int(rng.uniform(0.1, 0.9) * (slot - length))
            channel = None
            if kind == "sensor_drift":
                channel = _DRIFTABLE[r % 2]
            elif kind == "stuck_sensor":
                channel = _STICKABLE[r % 2]
            episodes.append(FaultEpisode(str(kind), start, start + length, channel))
    return episodes


def _steps(
    rows: int, levels: Sequence[float], lo: int, hi: int, rng: np.random.Generator
) -> np.ndarray:
    """A piecewise-constant setpoint that jumps between ``levels`` every lo..hi rows."""
    out = np.empty(rows)
    i, current = 0, float(rng.choice(levels))
    while i < rows:
        n = int(rng.integers(lo, hi))
        out[i : i + n] = current
        current = float(rng.choice([v for v in levels if v != current]))
        i += n
    return out


def _lag(target: np.ndarray, tau_s: float, start: float | None = None) -> np.ndarray:
    """First-order lag with time constant ``tau_s`` at 1 s sampling."""
    alpha = 1.0 - np.exp(-1.0 / tau_s)
    out = np.empty_like(target)
    y = float(target[0] if start is None else start)
    for i, x in enumerate(target):
        y += alpha * (x - y)
        out[i] = y
    return out


def _ramp(ep: FaultEpisode, rows: int, rise_s: float) -> np.ndarray:
    """Fault severity over the whole recording: 0 outside, rising to 1 over ``rise_s``."""
    r = np.zeros(rows)
    n = ep.end - ep.start
    r[ep.start : ep.end] = np.clip((np.arange(n) + 1) / max(rise_s, 1.0), 0.0, 1.0)
    return r


def generate_demo(rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """The demo recording as a DataFrame: ``timestamp`` (ISO text, 1 s), channels, ``label``.

    Deterministic for a given ``rows`` and ``seed``. Channel values contain a few NaN gaps.
    """
    if rows < 600:
        raise ValueError("the demo recording needs at least 600 rows")
    rng = np.random.default_rng(seed)
    t = np.arange(rows, dtype=np.float64)
    episodes = plan_episodes(rows, seed)

    # --- operating point: speed setpoint and valve opening, changed by the operator
    speed_set = _steps(rows, (1450.0, 1750.0, 2100.0, 2500.0, 2950.0), 400, 1800, rng)
    valve = _steps(rows, (0.55, 0.7, 0.85, 1.0), 500, 2200, rng)
    valve = _lag(valve, 4.0)  # the actuator takes a few seconds
    for ep in episodes:
        if ep.kind == "valve_blockage":
            valve *= 1.0 - 0.38 * _ramp(ep, rows, rise_s=0.25 * (ep.end - ep.start))
    speed = _lag(speed_set, 6.0) + rng.normal(0, 2.5, rows)
    ns = speed / _RATED_RPM  # relative speed (affinity laws)

    # --- hydraulics
    flow = 62.0 * ns * valve**0.7
    discharge = 0.9 + 5.6 * ns**2 * (1.2 - 0.4 * valve)
    suction = 1.25 - 0.00009 * flow**2
    cav = np.zeros(rows)
    burst = np.abs(rng.standard_t(3, rows))
    for ep in episodes:
        if ep.kind == "cavitation":
            cav = np.maximum(cav, _ramp(ep, rows, rise_s=15.0))
    flow *= 1.0 - cav * (0.10 + 0.12 * burst)
    discharge *= 1.0 - cav * (0.06 + 0.05 * burst)
    suction -= cav * (0.22 + 0.05 * burst)

    # --- motor
    head = discharge - suction
    current = 3.8 + 0.062 * flow * head
    for ep in episodes:
        if ep.kind == "valve_blockage":
            # The motor works against the choke: current rises while flow falls, the
            # opposite of a normal valve closing (which lowers the current).
            current *= 1.0 + 0.16 * _ramp(ep, rows, rise_s=0.25 * (ep.end - ep.start))
    current *= 1.0 - 0.03 * cav
    voltage = 400.0 + 2.5 * np.sin(2 * np.pi * t / 5400.0) - 0.18 * current

    # --- vibration: grows with speed^2; bearing wear and cavitation add to it
    wear = np.zeros(rows)
    for ep in episodes:
        if ep.kind == "bearing_wear":
            wear = np.maximum(wear, _ramp(ep, rows, rise_s=0.7 * (ep.end - ep.start)))
    spikes = rng.exponential(1.0, rows) * (rng.random(rows) < 0.15)
    vib_base = 0.7 + 1.7 * ns**2
    vib_de = vib_base * (1.0 + wear * (0.8 + 0.5 * spikes)) + cav * (0.3 + 0.6 * burst)
    vib_nde = 0.25 + 0.55 * vib_base * (1.0 + 0.3 * wear) + cav * (0.15 + 0.35 * burst)

    # --- thermal: ambient drifts over the shift; heat from load, speed and friction
    ambient = 24.0 + 3.0 * np.sin(2 * np.pi * t / 21600.0 + rng.uniform(0, 2 * np.pi))
    heat = 14.0 * ns**2 + 0.35 * current + 9.0 * wear
    bearing_temp = _lag(ambient + heat, 600.0)

    # --- sensor noise
    values = {
        "motor_current_A": current + rng.normal(0, 0.12, rows),
        "supply_voltage_V": voltage + rng.normal(0, 0.9, rows),
        "motor_speed_rpm": speed,
        "vibration_de_mm_s": vib_de * np.exp(rng.normal(0, 0.05, rows)),
        "vibration_nde_mm_s": vib_nde * np.exp(rng.normal(0, 0.05, rows)),
        "suction_pressure_bar": suction + rng.normal(0, 0.012, rows),
        "discharge_pressure_bar": discharge + rng.normal(0, 0.03, rows),
        "flow_rate_m3h": flow + rng.normal(0, 0.5, rows),
        "bearing_temp_C": bearing_temp + rng.normal(0, 0.08, rows),
    }

    # --- sensor faults act on the readings, not on the physics
    for ep in episodes:
        if ep.kind == "sensor_drift" and ep.channel is not None:
            col = values[ep.channel]
            typical = float(np.median(np.abs(col)))
            sign = rng.choice([-1.0, 1.0])
            size = rng.uniform(0.25, 0.4) * typical
            col += sign * size * _ramp(ep, rows, rise_s=0.4 * (ep.end - ep.start))
        elif ep.kind == "stuck_sensor" and ep.channel is not None:
            col = values[ep.channel]
            col[ep.start : ep.end] = col[ep.start]

    labels = np.full(rows, NORMAL, dtype=object)
    for ep in episodes:
        labels[ep.start : ep.end] = ep.kind

    # --- a few logger dropouts: short NaN gaps in single channels
    for _ in range(max(2, rows // 3000)):
        name = str(rng.choice(CHANNELS))
        start = int(rng.integers(_WARMUP_ROWS, rows - 50))
        values[name][start : start + int(rng.integers(3, 30))] = np.nan

    frame = pd.DataFrame({"timestamp": (START + np.arange(rows)).astype(str)})
    for name in CHANNELS:
        frame[name] = np.round(values[name], _DECIMALS[name])
    frame["label"] = labels
    return frame


def write_demo_csv(path: str | Path, rows: int = DEFAULT_ROWS, seed: int = 0) -> Path:
    """Write the demo recording to ``path`` atomically (comma CSV, ``\\n`` line ends)."""
    path = Path(path)
    frame = generate_demo(rows=rows, seed=seed)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n", na_rep="")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faultlens.core.demo", description="Write the demo pump recording."
    )
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 600:
        parser.error("--rows must be at least 600")
    write_demo_csv(args.out, rows=args.rows, seed=args.seed)
    print(f"wrote {args.out} ({args.rows} rows, seed {args.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
