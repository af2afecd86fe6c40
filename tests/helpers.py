"""Test helpers shared by several test modules (fixtures stay in conftest.py)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from conftest import write_tone


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``emovox ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from emovox.interfaces import cli

    monkeypatch.setattr(sys, "argv", ["emovox", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tone_manifest(root: Path, *, speakers: int = 4, per_label: int = 4) -> Path:
    """A manifest corpus of tones in ``root``: 'anger' a high tone, 'sad' a low one, with
    ``per_label`` one-second files per label and speaker; returns the manifest's path."""
    lines = ["path,label,speaker"]
    for s in range(speakers):
        for i in range(per_label):
            for label, freq in (("anger", 600.0), ("sad", 120.0)):
                name = f"s{s}_{label}_{i}.wav"
                write_tone(root / name, freq=freq * (1 + 0.03 * i), duration=1.0, seed=s * 10 + i)
                lines.append(f"{name},{label},spk{s}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


# --- a virtual microphone: a private PulseAudio daemon whose null sink's monitor is the input


class VirtualMicUnavailable(RuntimeError):
    """This machine cannot run a virtual microphone; the message says what is missing."""


def virtual_mic_missing() -> str | None:
    """Why no virtual microphone can run here (a tool, the ALSA plugin, PortAudio), or None."""
    import glob
    import shutil

    for tool in ("pulseaudio", "pactl", "pacat", "paplay"):
        if shutil.which(tool) is None:
            return f"'{tool}' not found (apt-get install pulseaudio pulseaudio-utils)"
    patterns = ["/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so"]
    patterns += ["/usr/lib*/alsa-lib/libasound_module_pcm_pulse.so"]
    if not any(glob.glob(pattern) for pattern in patterns):
        return "the ALSA pulse plugin is missing (apt-get install libasound2-plugins)"
    from emovox.audio import record as record_mod
    from emovox.errors import DeviceError

    try:
        record_mod._sounddevice()
    except DeviceError as exc:
        return str(exc)
    return None


VIRTUAL_SINK = "emovox_virtual"


@contextlib.contextmanager
def virtual_microphone(*, rate: int = 48000):
    """A private PulseAudio daemon with a null sink ``emovox_virtual`` whose monitor is the
    default source; yields ``(env, runtime)``: run recorders (fresh processes: PortAudio
    lists the ALSA 'pulse' device only once the server runs) and ``paplay
    --device=emovox_virtual FILE`` with ``env``. Raises :class:`VirtualMicUnavailable`.
    The same daemon as tests/test_record.py starts."""
    import os
    import shutil
    import subprocess
    import tempfile
    import time

    reason = virtual_mic_missing()
    if reason:
        raise VirtualMicUnavailable(reason)
    runtime = Path(tempfile.mkdtemp(prefix="emovox-pa-"))  # short: socket paths are limited
    socket = runtime / "native"
    env = {
        **os.environ,
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(runtime / "config"),
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "PULSE_STATE_PATH": str(runtime / "state"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    log_path = runtime / "pulseaudio.log"
    command = [
        "pulseaudio",
        "-n",  # no default.pa: no real hardware, no dbus, no X11
        "--daemonize=no",
        "--use-pid-file=no",
        "--exit-idle-time=-1",
        "--system=false",
        f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
        f"--load=module-null-sink sink_name={VIRTUAL_SINK} rate={rate} channels=2",
    ]
    with open(log_path, "wb") as log_file:
        daemon = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if daemon.poll() is not None:
                raise VirtualMicUnavailable(
                    f"pulseaudio exited at start: {log_path.read_text()[-500:]}"
                )
            ok = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10)
            if ok.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise VirtualMicUnavailable(
                    f"pulseaudio did not answer: {log_path.read_text()[-500:]}"
                )
            time.sleep(0.2)
        subprocess.run(
            ["pactl", "set-default-source", f"{VIRTUAL_SINK}.monitor"], env=env, check=True
        )
        yield env, runtime
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=5)
        shutil.rmtree(runtime, ignore_errors=True)


# --- synthetic signals that silero-vad does (buzz) and does not (quiet) take for speech

SR = 16_000


def buzz(seconds: float, *, f0: float = 100.0, seed: int = 0) -> np.ndarray:
    """A harmonic buzz at a male voice's pitch, loudness pulsed at syllable rate (4 Hz): the
    one synthetic signal measured to read as speech to silero-vad (tests/test_vad.py)."""
    t = np.arange(int(SR * seconds)) / SR
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t - np.pi / 2)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * tone / np.max(np.abs(tone)) * envelope + noise).astype(np.float32)


def quiet(seconds: float, *, seed: int = 1, level: float = 0.01) -> np.ndarray:
    """A room-noise floor: white noise at ``level`` (0.01: about -40 dBFS)."""
    return (level * np.random.default_rng(seed).standard_normal(int(SR * seconds))).astype(
        np.float32
    )
