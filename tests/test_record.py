"""Microphone capture: a fake stream, a fake sounddevice, the real one, and a virtual mic."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emovox.audio import load_audio
from emovox.audio import record as record_mod
from emovox.audio.record import (
    MAX_RECORD_SECONDS,
    InputDevice,
    check_options,
    ensure_input_device,
    list_input_devices,
    portaudio_advice,
    record,
    resolve_device,
    save_wav,
)
from emovox.errors import AudioError, DeviceError, ParameterError
from helpers import VirtualMicUnavailable, virtual_microphone

# --- a fake stream -----------------------------------------------------------------------


class FakeStream:
    """Context manager with ``read(frames)``, like sounddevice.InputStream."""

    def __init__(
        self,
        *,
        samplerate: int,
        channels: int,
        dtype: str,
        device: object,
        freq: float = 440.0,
        chunk: int | None = None,
        overflow: bool = False,
        empty_after: int | None = None,
    ) -> None:
        self.samplerate, self.channels, self.dtype, self.device = (
            samplerate,
            channels,
            dtype,
            device,
        )
        self.freq, self.chunk, self.overflow, self.empty_after = freq, chunk, overflow, empty_after
        self.position = 0
        self.entered = self.exited = False
        self.requests: list[int] = []

    def __enter__(self) -> FakeStream:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.exited = True

    def read(self, frames: int) -> tuple[np.ndarray, bool]:
        self.requests.append(frames)
        if self.empty_after is not None and len(self.requests) > self.empty_after:
            return np.zeros((0, self.channels), dtype=self.dtype), False
        n = frames if self.chunk is None else self.chunk  # may deliver fewer or more
        t = (self.position + np.arange(n)) / self.samplerate
        self.position += n
        left = 0.5 * np.sin(2 * np.pi * self.freq * t)
        columns = [left] + [np.zeros(n)] * (self.channels - 1)
        return np.stack(columns, axis=1).astype(self.dtype), self.overflow


def factory(**options):
    """A stream factory that remembers the stream it made."""
    streams: list[FakeStream] = []

    def make(**kwargs) -> FakeStream:
        stream = FakeStream(**kwargs, **options)
        streams.append(stream)
        return stream

    make.streams = streams  # type: ignore[attr-defined]
    return make


def test_fake_stream_gives_mono_float32_of_the_right_length() -> None:
    make = factory()
    signal = record(duration=0.5, stream_factory=make)
    assert signal.dtype == np.float32
    assert signal.shape == (8000,)
    stream = make.streams[0]
    assert stream.entered and stream.exited
    assert (stream.samplerate, stream.channels, stream.dtype, stream.device) == (
        16000,
        1,
        "float32",
        None,
    )
    assert np.isclose(np.max(np.abs(signal)), 0.5, atol=1e-3)


def test_other_rate_and_device_reach_the_stream() -> None:
    make = factory()
    signal = record(duration=0.25, sample_rate=44100, device="USB mic", stream_factory=make)
    assert signal.shape == (round(0.25 * 44100),)
    assert make.streams[0].samplerate == 44100
    assert make.streams[0].device == "USB mic"


def test_stereo_is_downmixed_to_mono() -> None:
    make = factory()
    signal = record(duration=0.2, channels=2, stream_factory=make)
    assert signal.shape == (3200,) and signal.dtype == np.float32
    assert make.streams[0].channels == 2
    # Left is a 0.5 sine, right is silent: the mean peaks at 0.25.
    assert np.isclose(np.max(np.abs(signal)), 0.25, atol=1e-3)


def test_single_stereo_frame_stays_one_sample() -> None:
    signal = record(duration=1 / 16000, channels=2, stream_factory=factory())
    assert signal.shape == (1,)


@pytest.mark.parametrize("chunk", [100, 5000])
def test_short_and_long_reads_still_give_the_exact_length(chunk: int) -> None:
    make = factory(chunk=chunk)
    signal = record(duration=0.3, stream_factory=make)
    assert signal.shape == (4800,)
    expected = np.sin(2 * np.pi * 440 * np.arange(4800) / 16000) * 0.5
    np.testing.assert_allclose(signal, expected, atol=1e-5)


def test_a_stream_that_stops_raises_device_error() -> None:
    with pytest.raises(DeviceError, match="stopped delivering"):
        record(duration=1.0, stream_factory=factory(empty_after=2))


def test_overflow_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="emovox.audio.record"):
        record(duration=0.2, stream_factory=factory(overflow=True))
    assert "overflow" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": 0}, "positive"),
        ({"duration": -1.0}, "positive"),
        ({"duration": float("nan")}, "positive"),
        ({"duration": float("inf")}, "positive"),
        ({"duration": MAX_RECORD_SECONDS + 1}, "600 s"),
        ({"duration": "2"}, "number of seconds"),
        ({"duration": 1.0, "sample_rate": 0}, "between 8000 and 192000"),
        ({"duration": 1.0, "sample_rate": 4000}, "between 8000 and 192000"),
        ({"duration": 1.0, "sample_rate": 400_000}, "between 8000 and 192000"),
        ({"duration": 1.0, "sample_rate": 16000.5}, "integer"),
        ({"duration": 1.0, "channels": 0}, "channels"),
    ],
)
def test_bad_options_raise_before_opening_a_stream(kwargs: dict, message: str) -> None:
    make, started = factory(), []
    with pytest.raises(ParameterError, match=message) as info:
        record(**kwargs, stream_factory=make, on_start=lambda: started.append(1))
    assert isinstance(info.value, ValueError)
    assert make.streams == [] and started == []
    with pytest.raises(ParameterError, match=message):
        check_options(**kwargs)


def test_check_options_counts_the_frames() -> None:
    assert check_options(duration=0.5) == 8000
    assert check_options(duration=2, sample_rate=np.int64(44100), channels=2) == 88200
    assert check_options(duration=np.float32(0.25), sample_rate=8000) == 2000
    assert check_options(duration=MAX_RECORD_SECONDS) == MAX_RECORD_SECONDS * 16000


@pytest.mark.parametrize("duration", [0, -1.0, float("nan"), float("inf")])
def test_bad_duration_is_refused_before_the_device_is_looked_at(
    monkeypatch: pytest.MonkeyPatch, duration: float
) -> None:
    """`emovox record --duration 0` on a machine without sounddevice: the option is wrong."""
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(ParameterError, match="positive number of seconds"):
        record(duration=duration)


def test_on_start_runs_once_the_stream_is_open_and_before_reading() -> None:
    make, seen = factory(), []

    def on_start() -> None:
        (stream,) = make.streams
        seen.append((stream.entered, list(stream.requests)))

    record(duration=0.3, stream_factory=make, on_start=on_start)
    assert seen == [(True, [])]  # opened and started, nothing read yet
    assert sum(make.streams[0].requests) == 4800


def test_on_start_is_not_called_when_the_stream_fails() -> None:
    def broken(**kwargs):
        raise DeviceError("the stream could not be opened")

    started = []
    with pytest.raises(DeviceError):
        record(duration=1.0, stream_factory=broken, on_start=lambda: started.append(1))
    assert started == []


# --- a fake sounddevice module -----------------------------------------------------------


class FakePortAudioError(Exception):
    pass


def fake_sounddevice(
    devices: list[dict], *, default: int | None, rates: set[int] | None = None, open_fails=False
) -> types.ModuleType:
    """A stand-in for the sounddevice module with the given device table."""
    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = FakePortAudioError
    sd.opened = []

    def query_devices(device=None, kind=None):
        if kind == "input":
            if default is None:
                raise FakePortAudioError("Error querying device -1")
            return {**devices[default], "index": default}
        return devices

    def check_input_settings(*, device, channels, dtype, samplerate):
        if rates is not None and samplerate not in rates:
            raise FakePortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def input_stream(**kwargs):
        if open_fails:
            raise FakePortAudioError("Error opening InputStream: Device unavailable [-9985]")
        sd.opened.append(kwargs)
        return FakeStream(**kwargs)

    sd.query_devices = query_devices
    sd.check_input_settings = check_input_settings
    sd.InputStream = input_stream
    return sd


def device(name: str, inputs: int, outputs: int = 0, rate: float = 44100.0) -> dict:
    return {
        "name": name,
        "max_input_channels": inputs,
        "max_output_channels": outputs,
        "default_samplerate": rate,
    }


TABLE = [
    device("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2),
    device("HDMI 0", 0, 8),
    device("USB Audio Mic (hw:1,0)", 1, 0, 48000.0),
    device("pulse", 32, 32),
    device("default", 32, 32),
]


@pytest.fixture
def with_sd(monkeypatch: pytest.MonkeyPatch):
    def install(devices: list[dict], **kwargs) -> types.ModuleType:
        sd = fake_sounddevice(devices, **kwargs)
        monkeypatch.setitem(sys.modules, "sounddevice", sd)
        return sd

    return install


def test_list_input_devices_keeps_inputs_and_marks_the_default(with_sd) -> None:
    with_sd(TABLE, default=4)
    devices = list_input_devices()
    assert [d.index for d in devices] == [0, 2, 3, 4]
    assert [d.is_default for d in devices] == [False, False, False, True]
    assert devices[1] == InputDevice(
        index=2,
        name="USB Audio Mic (hw:1,0)",
        max_input_channels=1,
        default_samplerate=48000.0,
        is_default=False,
    )


def test_no_input_device_raises_no_microphone(with_sd) -> None:
    with_sd([device("HDMI 0", 0, 8)], default=None)
    assert list_input_devices() == []
    started = []
    for call in (
        ensure_input_device,
        lambda: record(duration=1.0, on_start=lambda: started.append(1)),
    ):
        with pytest.raises(DeviceError, match=r"No microphone \(input device\) found") as info:
            call()
        assert "emovox record --list-devices" in str(info.value)
    assert started == []


def test_ensure_input_device_finds_what_record_would_use(with_sd) -> None:
    sd = with_sd(TABLE, default=4)
    assert ensure_input_device().index == 4
    assert ensure_input_device("usb").name == "USB Audio Mic (hw:1,0)"
    with pytest.raises(DeviceError, match="at most 1 channel"):
        ensure_input_device(2, channels=2)
    assert sd.opened == []  # checking opens no stream


def test_inputs_without_a_default_ask_for_a_name(with_sd) -> None:
    with_sd(TABLE, default=None)
    with pytest.raises(DeviceError, match="no default one"):
        record(duration=1.0)


def test_default_device_records(with_sd) -> None:
    sd = with_sd(TABLE, default=4)
    signal = record(duration=0.5)
    assert signal.shape == (8000,) and signal.dtype == np.float32
    assert sd.opened == [{"samplerate": 16000, "channels": 1, "dtype": "float32", "device": 4}]


@pytest.mark.parametrize(("choice", "index"), [("pulse", 3), ("usb", 2), (0, 0), ("ALC3246", 0)])
def test_device_by_name_or_number(with_sd, choice: int | str, index: int) -> None:
    sd = with_sd(TABLE, default=4)
    record(duration=0.1, device=choice)
    assert sd.opened[0]["device"] == index


def test_unknown_device_name_lists_the_inputs(with_sd) -> None:
    with_sd(TABLE, default=4)
    with pytest.raises(DeviceError, match="No input device is named 'Blue Yeti'") as info:
        record(duration=1.0, device="Blue Yeti")
    message = str(info.value)
    assert "'USB Audio Mic (hw:1,0)'" in message and "'pulse'" in message
    assert "HDMI" not in message  # outputs are not offered


def test_output_only_or_missing_index_is_refused(with_sd) -> None:
    with_sd(TABLE, default=4)
    with pytest.raises(DeviceError, match="no input device number 1"):
        record(duration=1.0, device=1)
    with pytest.raises(DeviceError, match="no input device number 99"):
        record(duration=1.0, device=99)


def test_ambiguous_name_is_refused(with_sd) -> None:
    with_sd(TABLE, default=4)
    with pytest.raises(DeviceError, match="matches several"):
        record(duration=1.0, device="hw:")


def test_too_many_channels_for_the_device(with_sd) -> None:
    with_sd(TABLE, default=4)
    with pytest.raises(DeviceError, match="at most 1 channel"):
        record(duration=1.0, device=2, channels=2)


def test_unsupported_rate_records_at_the_device_rate_and_resamples(with_sd) -> None:
    sd = with_sd(TABLE, default=4, rates={48000})
    signal = record(duration=0.5, device="USB")
    assert sd.opened[0]["samplerate"] == 48000
    assert signal.shape == (8000,) and signal.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(signal))
    assert abs(np.argmax(spectrum) * 16000 / signal.size - 440) < 5


def test_failure_to_open_is_a_device_error(with_sd) -> None:
    with_sd(TABLE, default=4, open_fails=True)
    started = []
    with pytest.raises(DeviceError, match="Device unavailable") as info:
        record(duration=1.0, on_start=lambda: started.append(1))
    assert "--list-devices" in str(info.value)
    assert started == []


def test_real_path_calls_on_start_once_after_opening(with_sd) -> None:
    sd = with_sd(TABLE, default=4)
    seen = []
    record(duration=0.2, on_start=lambda: seen.append(len(sd.opened)))
    assert seen == [1]


def test_resolve_device_rejects_odd_types() -> None:
    devices = [InputDevice(0, "mic", 1, 16000.0, True)]
    with pytest.raises(DeviceError, match="not a float"):
        resolve_device(1.0, devices)  # type: ignore[arg-type]


# --- missing packages --------------------------------------------------------------------


def test_missing_portaudio_explains_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_portaudio(name: str):
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(record_mod, "importlib", types.SimpleNamespace(import_module=no_portaudio))
    monkeypatch.setattr(record_mod.sys, "platform", "linux")
    for call in (list_input_devices, ensure_input_device, lambda: record(duration=1.0)):
        with pytest.raises(DeviceError, match="libportaudio2") as info:
            call()
        message = str(info.value)
        assert "PortAudio library not found" in message
        assert "pip install" not in message  # sounddevice is there; pip cannot add PortAudio


def test_portaudio_advice_names_the_platform_package() -> None:
    assert "apt-get install libportaudio2" in portaudio_advice("linux")
    assert "brew install portaudio" in portaudio_advice("darwin")
    assert "sounddevice" in portaudio_advice("win32")


def test_missing_sounddevice_explains_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    for call in (ensure_input_device, lambda: record(duration=1.0)):
        with pytest.raises(DeviceError, match=r"pip install 'emovox\[record\]'") as info:
            call()
        assert "PortAudio" not in str(info.value)


def test_injected_stream_needs_no_sounddevice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert record(duration=0.1, stream_factory=factory()).shape == (1600,)


# --- the real sounddevice ----------------------------------------------------------------


@pytest.fixture
def real_sd():
    try:
        return record_mod._sounddevice()
    except DeviceError as exc:
        pytest.skip(f"sounddevice/PortAudio unavailable: {exc}")


def test_real_sounddevice_without_inputs(real_sd, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs_only = [device("HDMI 0", 0, 8)]

    def query_devices(device=None, kind=None):
        if kind is not None:
            raise real_sd.PortAudioError("Error querying device -1")
        return outputs_only

    monkeypatch.setattr(real_sd, "query_devices", query_devices)
    with pytest.raises(DeviceError, match="No microphone"):
        record(duration=1.0)


def test_this_machine_records_or_says_there_is_no_microphone(real_sd) -> None:
    """On a machine without a microphone (CI) this must be a DeviceError, not a crash."""
    try:
        signal = record(duration=0.1)
    except DeviceError as exc:
        assert "--list-devices" in str(exc)
    else:
        assert signal.shape == (1600,) and signal.dtype == np.float32


# --- save_wav ----------------------------------------------------------------------------


def test_save_wav_round_trips_through_load_audio(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    signal = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    path = save_wav(tmp_path / "a" / "b" / "take.wav", signal)
    assert path == tmp_path / "a" / "b" / "take.wav"
    info = sf.info(path)
    assert (info.format, info.subtype) == ("WAV", "PCM_16")
    assert (info.samplerate, info.channels) == (16000, 1)
    back = load_audio(path)
    assert back.shape == signal.shape
    np.testing.assert_allclose(back, signal, atol=1 / 32767 + 1e-6)


def test_save_wav_other_rate_stereo_and_clipping(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    left = 1.5 * np.sin(2 * np.pi * 200 * t)  # clipped to [-1, 1]
    path = save_wav(tmp_path / "s.wav", np.stack([left, left], axis=1), sample_rate=8000)
    data, rate = sf.read(path)
    assert rate == 8000 and data.shape == (8000, 2)
    assert np.max(np.abs(data)) <= 1.0
    assert load_audio(path).shape == (16000,)


def test_save_wav_int16(tmp_path: Path) -> None:
    signal = (np.sin(np.arange(4000) / 5) * 20000).astype(np.int16)
    data, _ = sf.read(save_wav(tmp_path / "i.wav", signal), dtype="int16")
    np.testing.assert_array_equal(data, signal)


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (np.zeros(0, dtype=np.float32), "shape"),
        (np.zeros((2, 2, 2), dtype=np.float32), "shape"),
        (np.array([0.0, np.nan]), "NaN"),
        (np.array(["a", "b"]), "dtype"),
    ],
)
def test_save_wav_refuses_bad_arrays(tmp_path: Path, signal: np.ndarray, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        save_wav(tmp_path / "x.wav", signal)
    assert not (tmp_path / "x.wav").exists()


# --- end to end through a virtual microphone (PulseAudio null sink -> ALSA pulse -> PortAudio)


@pytest.fixture
def pulse_server():
    """A private PulseAudio daemon with a null sink whose monitor is the default source."""
    try:
        with virtual_microphone() as server:
            yield server
    except VirtualMicUnavailable as exc:
        pytest.skip(f"no virtual microphone: {exc}")


RECORDER = """
import sys
from emovox.audio.record import ensure_input_device, list_input_devices, record, save_wav
names = [d.name for d in list_input_devices()]
print("input devices:", names, flush=True)
device = "pulse" if "pulse" in names else None
print("checked:", ensure_input_device(device).name, flush=True)
signal = record(duration=1.0, device=device, on_start=lambda: print("started", flush=True))
save_wav(sys.argv[1], signal)
"""


@pytest.mark.slow
def test_records_a_tone_through_a_virtual_microphone(pulse_server, tmp_path: Path) -> None:
    env, _ = pulse_server
    freq = 1000.0
    t = np.arange(5 * 48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    tone_path = tmp_path / "tone.wav"
    sf.write(tone_path, tone, 48000, subtype="PCM_16")
    take = tmp_path / "take.wav"
    # Play into the null sink; its monitor is the default source the recorder hears.
    player = subprocess.Popen(
        ["paplay", "--device=emovox_virtual", str(tone_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(0.3)
        # A fresh process: PortAudio only lists the ALSA 'pulse' device once the server runs.
        done = subprocess.run(
            [sys.executable, "-c", RECORDER, str(take)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        player.terminate()
        _, player_err = player.communicate(timeout=5)
    player_says = player_err.decode(errors="replace")
    diagnosis = f"recorder: {done.stdout}{done.stderr}\npaplay: {player_says}"
    assert done.returncode == 0, diagnosis
    assert done.stdout.count("started") == 1, diagnosis
    signal = load_audio(take)
    assert signal.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    peak_hz = np.argmax(spectrum) * 16000 / signal.size
    assert abs(peak_hz - freq) < 5, f"peak at {peak_hz:.1f} Hz; {diagnosis}"
    assert np.max(np.abs(signal)) > 0.1, diagnosis
