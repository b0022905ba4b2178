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

**Runs** (``generate_run``): the same rig recorded as another day or another installation
would record it, in one of two shapes: normal throughout, or normal until ``fault_start``
and then one fault to the end of the recording (``fault_start`` 0: one fault state
throughout, the usual way a fault is recorded for training). In ``generate_demo`` seeds
differ only in noise, schedule and fault placement, so a model that memorises absolute
levels still looks fine on an unseen seed; real recordings differ more, and such a model
raises long false alarms on them. A run is a continuous process near its duty point and
draws from its seed:

- its own process noise, bursts and spikes (another realisation),
- its own operating schedule: every 3-12 minutes the operator sets a new speed (2870-2950
  rpm) and valve opening (0.88-1.0), so a run of a few minutes stays at one or two
  operating points; in between, the controllers trim the valve (sd 0.08, ~1.5 min) and
  the speed (sd 1.2 %, ~2 min) to the downstream demand,
- sensor calibration within data-sheet tolerances: each channel its own gain (sd 0.2 % for
  speed and temperature, 0.25 % voltage, 1-1.2 % current, pressures and flow, 1.5 % the
  accelerometers; clipped at 2 sd, so up to +-2-3 %) and zero offset (about one noise sd),
- rig constants a little off: pump flow and head coefficients (sd 1 %), no-load current
  (2 %), motor efficiency (1 %), suction-line loss (5 %), static head, vibration baseline
  (2 %),
- its surroundings: feed tank level (suction +-0.03 bar), grid voltage (sd 0.15 %), hall
  temperature (+-0.3 degC about 24 degC),
- slow drifts over the run: the supply voltage (swings of 0.5-1.5 V over 5-150 minutes),
  the feed tank level (+-0.01-0.03 bar over 20-80 minutes), the hall temperature (a trend
  of up to 0.5 degC/h, ventilation wander of sd 0.5 degC) and strainer fouling (up to 1 %
  of the flow per hour).

Why these sizes: each is plausible for one plant on another day, and small beside the
fault signatures (a valve blockage takes ~28 % of the flow at unchanged current, a drifting
sensor moves 25-40 %, bearing wear adds ~80 % drive-end vibration), so a method that reads
the relations between channels still finds the faults. But a run's levels as a whole
differ from another run's by about 0.5-1 within-run standard deviations (current,
pressures, flow, vibration, voltage) and up to ~2 for the slow bearing temperature, and a
whole-file fault recording shifts every channel's median too. Trained on one normal run and
one fault-throughout run per type and scanning unseen runs whose fault starts partway, the
attention-LSTM with the product's defaults (a9286fc) flags roughly a third to four fifths
of the normal rows, a random forest on 32-row window statistics usually a few % (though it
too is fooled when the one normal training run sits at the edge of the run-to-run spread):
the failure seen on held-out benchmarks of continuous process plants. ``_RUN_SPREAD``
scales every between-run difference at once.

``python -m faultlens.core.demo OUT.csv [--rows N] [--seed S]`` writes the demo CSV;
``--run`` a normal run, ``--fault NAME [--fault-start ROW]`` a run with that fault.
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


def _rise_s(ep: FaultEpisode, caps: dict[str, float] | None) -> float:
    """How long a fault takes to reach full size. In the demo recording the ramp scales with
    the episode (``caps`` None); ``caps`` limits it per fault type."""
    n = ep.end - ep.start
    rise = {
        "valve_blockage": 0.25 * n,
        "cavitation": 15.0,
        "bearing_wear": 0.7 * n,
        "sensor_drift": 0.4 * n,
        "stuck_sensor": 0.0,
    }[ep.kind]
    return rise if caps is None else min(rise, caps[ep.kind])


@dataclass(frozen=True)
class _Rig:
    """The rig's constants and its sensors' calibration. The defaults are the demo rig (and
    must stay exactly so: ``generate_demo`` uses them); ``_draw_rig`` varies them per run."""

    flow_k: float = 62.0  # m3/h at rated speed with the valve open
    discharge_0: float = 0.9  # bar
    head_k: float = 5.6  # bar at rated speed
    suction_0: float = 1.25  # bar, set by the feed tank level
    suction_loss: float = 0.00009  # bar per (m3/h)^2 in the suction line
    current_0: float = 3.8  # A, no-load current
    current_k: float = 0.062  # A per (m3/h x bar)
    supply_v: float = 400.0
    supply_amp: float = 2.5  # V, slow swing of the grid voltage
    supply_period_s: float = 5400.0
    supply_phase: float = 0.0
    supply_droop: float = 0.18  # V per A
    vib_0: float = 0.7  # mm/s
    vib_k: float = 1.7  # mm/s at rated speed
    ambient_c: float = 24.0
    ambient_amp: float = 3.0
    ambient_period_s: float = 21600.0
    # Per-channel reading = gain x true value + offset (CHANNELS order); None: ideal sensors.
    gain: tuple[float, ...] | None = None
    offset: tuple[float, ...] | None = None


@dataclass
class _Drifts:
    """Slow changes over a run, each (rows,) or None (none): added to the ambient
    temperature, the supply voltage and the suction pressure (feed tank level);
    ``flow_scale`` multiplies the pump's flow."""

    ambient: np.ndarray | None = None
    supply: np.ndarray | None = None
    suction: np.ndarray | None = None
    flow_scale: np.ndarray | None = None


def _simulate(
    rows: int,
    rng: np.random.Generator,
    speed_set: np.ndarray,
    valve: np.ndarray,
    episodes: Sequence[FaultEpisode],
    rig: _Rig,
    drifts: _Drifts,
    rise_caps: dict[str, float] | None,
    gaps_from: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rig's physics, sensors and faults for one recording: the channel values and the
    row labels. ``rng`` is drawn from in a fixed order (``generate_demo`` depends on it)."""
    t = np.arange(rows, dtype=np.float64)
    valve = _lag(valve, 4.0)  # the actuator takes a few seconds
    for ep in episodes:
        if ep.kind == "valve_blockage":
            valve *= 1.0 - 0.38 * _ramp(ep, rows, rise_s=_rise_s(ep, rise_caps))
    speed = _lag(speed_set, 6.0) + rng.normal(0, 2.5, rows)
    ns = speed / _RATED_RPM  # relative speed (affinity laws)

    # --- hydraulics
    flow = rig.flow_k * ns * valve**0.7
    if drifts.flow_scale is not None:
        flow *= drifts.flow_scale
    discharge = rig.discharge_0 + rig.head_k * ns**2 * (1.2 - 0.4 * valve)
    suction = rig.suction_0 - rig.suction_loss * flow**2
    if drifts.suction is not None:
        suction += drifts.suction
    cav = np.zeros(rows)
    burst = np.abs(rng.standard_t(3, rows))
    for ep in episodes:
        if ep.kind == "cavitation":
            cav = np.maximum(cav, _ramp(ep, rows, rise_s=_rise_s(ep, rise_caps)))
    flow *= 1.0 - cav * (0.10 + 0.12 * burst)
    discharge *= 1.0 - cav * (0.06 + 0.05 * burst)
    suction -= cav * (0.22 + 0.05 * burst)

    # --- motor
    head = discharge - suction
    current = rig.current_0 + rig.current_k * flow * head
    for ep in episodes:
        if ep.kind == "valve_blockage":
            # The motor works against the choke: current rises while flow falls, the
            # opposite of a normal valve closing (which lowers the current).
            current *= 1.0 + 0.16 * _ramp(ep, rows, rise_s=_rise_s(ep, rise_caps))
    current *= 1.0 - 0.03 * cav
    voltage = (
        rig.supply_v
        + rig.supply_amp * np.sin(2 * np.pi * t / rig.supply_period_s + rig.supply_phase)
        - rig.supply_droop * current
    )
    if drifts.supply is not None:
        voltage += drifts.supply

    # --- vibration: grows with speed^2; bearing wear and cavitation add to it
    wear = np.zeros(rows)
    for ep in episodes:
        if ep.kind == "bearing_wear":
            wear = np.maximum(wear, _ramp(ep, rows, rise_s=_rise_s(ep, rise_caps)))
    spikes = rng.exponential(1.0, rows) * (rng.random(rows) < 0.15)
    vib_base = rig.vib_0 + rig.vib_k * ns**2
    vib_de = vib_base * (1.0 + wear * (0.8 + 0.5 * spikes)) + cav * (0.3 + 0.6 * burst)
    vib_nde = 0.25 + 0.55 * vib_base * (1.0 + 0.3 * wear) + cav * (0.15 + 0.35 * burst)

    # --- thermal: ambient drifts over the shift; heat from load, speed and friction
    ambient = rig.ambient_c + rig.ambient_amp * np.sin(
        2 * np.pi * t / rig.ambient_period_s + rng.uniform(0, 2 * np.pi)
    )
    if drifts.ambient is not None:
        ambient += drifts.ambient
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
    # --- calibration: each sensor's own gain and zero offset
    if rig.gain is not None and rig.offset is not None:
        for name, gain, offset in zip(CHANNELS, rig.gain, rig.offset, strict=True):
            values[name] = gain * values[name] + offset

    # --- sensor faults act on the readings, not on the physics
    for ep in episodes:
        if ep.kind == "sensor_drift" and ep.channel is not None:
            col = values[ep.channel]
            typical = float(np.median(np.abs(col)))
            sign = rng.choice([-1.0, 1.0])
            size = rng.uniform(0.25, 0.4) * typical
            col += sign * size * _ramp(ep, rows, rise_s=_rise_s(ep, rise_caps))
        elif ep.kind == "stuck_sensor" and ep.channel is not None:
            col = values[ep.channel]
            col[ep.start : ep.end] = col[ep.start]

    labels = np.full(rows, NORMAL, dtype=object)
    for ep in episodes:
        labels[ep.start : ep.end] = ep.kind

    # --- a few logger dropouts: short NaN gaps in single channels
    for _ in range(max(2, rows // 3000)):
        name = str(rng.choice(CHANNELS))
        start = int(rng.integers(gaps_from, rows - 50))
        values[name][start : start + int(rng.integers(3, 30))] = np.nan
    return values, labels


def _frame(values: dict[str, np.ndarray], labels: np.ndarray, start: np.datetime64) -> pd.DataFrame:
    rows = len(labels)
    frame = pd.DataFrame({"timestamp": (start + np.arange(rows)).astype(str)})
    for name in CHANNELS:
        frame[name] = np.round(values[name], _DECIMALS[name])
    frame["label"] = labels
    return frame


def generate_demo(rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """The demo recording as a DataFrame: ``timestamp`` (ISO text, 1 s), channels, ``label``.

    Deterministic for a given ``rows`` and ``seed``. Channel values contain a few NaN gaps.
    """
    if rows < 600:
        raise ValueError("the demo recording needs at least 600 rows")
    rng = np.random.default_rng(seed)
    episodes = plan_episodes(rows, seed)
    # --- operating point: speed setpoint and valve opening, changed by the operator
    speed_set = _steps(rows, (1450.0, 1750.0, 2100.0, 2500.0, 2950.0), 400, 1800, rng)
    valve = _steps(rows, (0.55, 0.7, 0.85, 1.0), 500, 2200, rng)
    values, labels = _simulate(
        rows, rng, speed_set, valve, episodes, _Rig(), _Drifts(), None, _WARMUP_ROWS
    )
    return _frame(values, labels, START)


# ---------------------------------------------------------------- runs of the rig
MIN_RUN_ROWS = 100
# Fault onset in a run: the fault lasts to the end of the recording, so its ramp is capped
# at this many rows (full size soon after the onset, not at the end of the run).
_RUN_RISE_CAP = {
    "valve_blockage": 120.0,
    "cavitation": 15.0,
    "bearing_wear": 240.0,
    "sensor_drift": 180.0,
    "stuck_sensor": 0.0,
}
# The plant's duty point; the operator's setpoints spread about it by +-_RUN_SPEED_SET rpm
# and +-_RUN_VALVE_SET (times _RUN_SPREAD).
_RUN_SPEED = 2910.0
_RUN_SPEED_SET = 40.0
_RUN_VALVE = 0.94
_RUN_VALVE_SET = 0.06
# Within a run controllers follow the downstream demand: sd of the valve trim and of the
# relative speed trim.
_RUN_VALVE_TRIM = 0.08
_RUN_SPEED_TRIM = 0.012
_MAX_RPM = 3000.0  # the drive allows a little over rated speed
# Calibration tolerance of each sensor: (gain sd, offset sd in the channel's unit); draws are
# clipped at 2 sd. About what a data sheet allows: class-1 current transformer, 0.5 % voltage
# transducer, tachometer, accelerometer sensitivity, pressure transmitters of 0.25-0.5 % of
# span, magnetic flow meter, Pt100.
_CALIBRATION = {
    "motor_current_A": (0.01, 0.1),
    "supply_voltage_V": (0.0025, 0.5),
    "motor_speed_rpm": (0.002, 3.0),
    "vibration_de_mm_s": (0.015, 0.03),
    "vibration_nde_mm_s": (0.015, 0.03),
    "suction_pressure_bar": (0.01, 0.012),
    "discharge_pressure_bar": (0.01, 0.025),
    "flow_rate_m3h": (0.012, 0.4),
    "bearing_temp_C": (0.002, 0.12),
}
# How far runs differ: scales every between-run difference (calibration, rig constants,
# ambient, grid, tank level, operating points); within-run variation is not scaled.
_RUN_SPREAD = 1.0


def _wander(rows: int, sd: float, tau_s: float, rng: np.random.Generator) -> np.ndarray:
    """A slowly wandering zero-mean signal: white noise through a first-order lag of
    ``tau_s``, scaled to a stationary standard deviation of ``sd`` (and started there)."""
    alpha = 1.0 - np.exp(-1.0 / tau_s)
    white = rng.normal(0.0, sd * np.sqrt((2.0 - alpha) / alpha), rows)
    return _lag(white, tau_s, start=float(rng.normal(0.0, sd)))


def _tol(rng: np.random.Generator, sd: float) -> float:
    """A normal deviation with standard deviation ``sd``, clipped at 2 sd."""
    return float(np.clip(rng.normal(0.0, sd), -2 * sd, 2 * sd))


def _draw_rig(rng: np.random.Generator, k: float) -> _Rig:
    """This run's rig: constants a few % off the nominal, and its sensors' calibration;
    ``k`` scales all the differences."""
    nom = _Rig()
    gain = tuple(1.0 + _tol(rng, k * _CALIBRATION[c][0]) for c in CHANNELS)
    offset = tuple(_tol(rng, k * _CALIBRATION[c][1]) for c in CHANNELS)
    return _Rig(
        flow_k=nom.flow_k * (1.0 + _tol(rng, k * 0.01)),  # impeller wear, trim
        discharge_0=nom.discharge_0 + _tol(rng, k * 0.03),  # downstream level
        head_k=nom.head_k * (1.0 + _tol(rng, k * 0.01)),
        suction_0=nom.suction_0 + k * float(rng.uniform(-0.03, 0.03)),  # feed tank level
        suction_loss=nom.suction_loss * (1.0 + _tol(rng, k * 0.05)),
        current_0=nom.current_0 * (1.0 + _tol(rng, k * 0.02)),
        current_k=nom.current_k * (1.0 + _tol(rng, k * 0.01)),  # motor efficiency
        supply_v=nom.supply_v * (1.0 + _tol(rng, k * 0.0015)),  # grid
        supply_amp=float(rng.uniform(0.5, 1.5)),
        supply_period_s=float(rng.uniform(2400.0, 9000.0)),
        supply_phase=float(rng.uniform(0.0, 2 * np.pi)),
        vib_0=nom.vib_0 * (1.0 + _tol(rng, k * 0.02)),  # alignment, coupling
        vib_k=nom.vib_k * (1.0 + _tol(rng, k * 0.02)),
        ambient_c=nom.ambient_c + k * float(rng.uniform(-0.3, 0.3)),  # the hall, another day
        ambient_amp=float(rng.uniform(0.1, 0.3)),
        ambient_period_s=float(rng.uniform(14400.0, 43200.0)),
        gain=gain,
        offset=offset,
    )


def _draw_drifts(rows: int, rng: np.random.Generator) -> _Drifts:
    """Slow changes within a run: hall temperature, supply voltage, tank level, fouling."""
    t = np.arange(rows, dtype=np.float64)
    ambient = rng.uniform(-0.5, 0.5) * t / 3600.0  # degC per hour
    ambient += _wander(rows, 0.5, 300.0, rng)  # ventilation, doors, sun
    supply = np.zeros(rows)
    for _ in range(2):
        period = rng.uniform(300.0, 1800.0)
        supply += rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
    # The feed tank level wanders as the upstream process fills and draws it.
    period = rng.uniform(1200.0, 5000.0)
    suction = rng.uniform(0.01, 0.03) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
    flow_scale = 1.0 - rng.uniform(0.0, 0.01) * t / 3600.0  # strainer fouling, per hour
    return _Drifts(ambient=ambient, supply=supply, suction=suction, flow_scale=flow_scale)


def _run_schedule(rows: int, rng: np.random.Generator, k: float) -> tuple[np.ndarray, np.ndarray]:
    """This run's operating schedule: the operator sets a new speed (2910 +- 40k rpm, at most
    rated) and valve opening (0.94 +- 0.06k) every 3-12 minutes, and in between the
    controllers trim both to the downstream demand, so the operating point never stands
    still."""
    speed_set = np.empty(rows)
    valve = np.empty(rows)
    i = 0
    while i < rows:
        n = int(rng.integers(200, 700))
        speed_set[i : i + n] = _RUN_SPEED + k * _RUN_SPEED_SET * rng.uniform(-1.0, 1.0)
        valve[i : i + n] = _RUN_VALVE + k * _RUN_VALVE_SET * rng.uniform(-1.0, 1.0)
        i += n
    speed_set = np.minimum(speed_set, _RATED_RPM)
    valve = np.clip(valve + _wander(rows, _RUN_VALVE_TRIM, 90.0, rng), 0.5, 1.0)
    speed_set = speed_set * (1.0 + _wander(rows, _RUN_SPEED_TRIM, 120.0, rng))
    speed_set = np.minimum(speed_set, _MAX_RPM)
    return speed_set, valve


def generate_run(
    rows: int, seed: int, fault: str | None = None, fault_start: int = 0
) -> pd.DataFrame:
    """One run of the rig as another day or another installation records it (module
    docstring): same columns as ``generate_demo``, deterministic per ``rows`` and ``seed``.

    ``fault`` None: normal throughout (``fault_start`` is then ignored). A name from
    FAULT_TYPES: rows before ``fault_start`` are normal, the fault lasts from there to the
    end of the recording (labelled with its name) and reaches full size within at most a
    few hundred rows; with ``fault_start`` 0 it is fully developed from the first row.
    Sensor faults pick their channel from the seed. Raises ValueError for an unknown fault,
    ``fault_start`` outside ``[0, rows)`` or fewer than MIN_RUN_ROWS rows.
    """
    if rows < MIN_RUN_ROWS:
        raise ValueError(f"a run needs at least {MIN_RUN_ROWS} rows")
    if fault is not None and fault not in FAULT_TYPES:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULT_TYPES)}")
    if not 0 <= fault_start < rows:
        raise ValueError(f"fault_start {fault_start} must be in [0, {rows})")
    rng = np.random.default_rng([seed, 2])  # the run's rig, schedule, drifts, fault channel
    rig = _draw_rig(rng, _RUN_SPREAD)
    speed_set, valve = _run_schedule(rows, rng, _RUN_SPREAD)
    drifts = _draw_drifts(rows, rng)
    start = START + np.timedelta64(int(rng.integers(1, 400)) * 86400, "s")
    start += np.timedelta64(int(rng.integers(0, 16 * 3600)), "s")
    episodes: list[FaultEpisode] = []
    if fault is not None:
        channel = None
        if fault == "sensor_drift":
            channel = str(rng.choice(_DRIFTABLE))
        elif fault == "stuck_sensor":
            channel = str(rng.choice(_STICKABLE))
        episodes.append(FaultEpisode(fault, fault_start, rows, channel))
    # A fault present from the first row was there before the recording began.
    caps = _RUN_RISE_CAP if fault_start > 0 else dict.fromkeys(FAULT_TYPES, 0.0)
    values, labels = _simulate(
        rows,
        np.random.default_rng([seed, 3]),  # the process: noise, bursts, spikes
        speed_set,
        valve,
        episodes,
        rig,
        drifts,
        caps,
        0,
    )
    return _frame(values, labels, start)


def _write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n", na_rep="")
    return path


def write_demo_csv(path: str | Path, rows: int = DEFAULT_ROWS, seed: int = 0) -> Path:
    """Write the demo recording to ``path`` atomically (comma CSV, ``\\n`` line ends)."""
    return _write_csv(path, generate_demo(rows=rows, seed=seed))


def write_run_csv(
    path: str | Path, rows: int, seed: int, fault: str | None = None, fault_start: int = 0
) -> Path:
    """Write ``generate_run(rows, seed, fault, fault_start)`` to ``path`` atomically, in the
    same format as ``write_demo_csv``."""
    return _write_csv(path, generate_run(rows, seed, fault=fault, fault_start=fault_start))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faultlens.core.demo",
        description="Write the demo pump recording, or with --run / --fault one run of the rig "
        "(its own calibration, operating points and drifts).",
    )
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", action="store_true", help="a normal run (generate_run)")
    parser.add_argument(
        "--fault", choices=FAULT_TYPES, help="a run with this fault from --fault-start to the end"
    )
    parser.add_argument(
        "--fault-start", type=int, default=0, metavar="ROW", help="first faulty row (default 0)"
    )
    args = parser.parse_args(argv)
    if args.fault is None and not args.run:
        if args.fault_start:
            parser.error("--fault-start needs --fault")
        if args.rows < 600:
            parser.error("--rows must be at least 600")
        write_demo_csv(args.out, rows=args.rows, seed=args.seed)
        print(f"wrote {args.out} ({args.rows} rows, seed {args.seed})", file=sys.stderr)
        return 0
    if args.rows < MIN_RUN_ROWS:
        parser.error(f"--rows must be at least {MIN_RUN_ROWS}")
    if args.fault is None and args.fault_start:
        parser.error("--fault-start needs --fault")
    if not 0 <= args.fault_start < args.rows:
        parser.error(f"--fault-start must be in [0, {args.rows})")
    write_run_csv(args.out, args.rows, args.seed, fault=args.fault, fault_start=args.fault_start)
    what = "normal" if args.fault is None else f"{args.fault} from row {args.fault_start}"
    print(f"wrote {args.out} (run: {args.rows} rows, seed {args.seed}, {what})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
