"""Timelines of long recordings: block-wise reading, windows, merging, the engine, the CLI.

Signals are synthetic (tones, a pulsed harmonic buzz that silero-vad takes for speech,
noise) except in the tests marked ``corpus``, which build recordings from RAVDESS clips
of known emotion. The default model was trained on those clips (all RAVDESS actors in
../shared/data): those tests check segmentation and windowing, not generalisation.
"""

from __future__ import annotations

import io
import itertools
import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import helpers
from emovox.audio import load_audio
from emovox.audio.stream import AudioStream
from emovox.errors import AudioError, ParameterError
from emovox.segmentation.windows import (
    DEFAULT_WINDOW,
    check_windows,
    merge_runs,
    partition,
    window_bounds,
)
from emovox.timeline import VAD_PAD, Envelope, _merge, summary, timeline_records
from helpers import buzz, run_cli

SR = 16_000


# -- signals -------------------------------------------------------------------------------
def quiet(seconds: float, *, seed: int = 1, level: float = 1e-3) -> np.ndarray:
    return helpers.quiet(seconds, seed=seed, level=level)


def pink(seconds: float, *, level: float, seed: int = 0) -> np.ndarray:
    n = int(SR * seconds)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return (level * noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


class EnergyVad:
    """A stand-in for silero-vad (same interface as SileroVad for UtteranceSegmenter): a
    512-sample chunk is speech when its RMS exceeds 0.02. Instant, for hours of audio."""

    frame_duration = 512 / SR

    def stream(self):
        return _EnergyStream()


class _EnergyStream:
    def __init__(self) -> None:
        self._rest = np.zeros(0, np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        data = np.concatenate([self._rest, np.asarray(block, np.float32)])
        count = data.size // 512
        chunks = data[: count * 512].reshape(count, 512)
        self._rest = data[count * 512 :]
        return (np.sqrt(np.mean(chunks**2, axis=1)) > 0.02).astype(np.float32)

    def flush(self) -> np.ndarray:
        if not self._rest.size:
            return np.zeros(0, np.float32)
        probs = self.process(np.zeros(512 - self._rest.size, np.float32))
        self._rest = np.zeros(0, np.float32)
        return probs


@pytest.fixture(scope="module")
def recognizer():
    from emovox import Recognizer

    loaded = Recognizer.load()
    loaded.check_speech = False
    return loaded


# -- windows ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds", [4.51, 5.99, 6.0, 7.3, 10.6, 20.0])
@pytest.mark.parametrize("hop", [None, 1.5, 1.0])
def test_windows_tile_an_utterance_in_windows_close_to_the_window_length(seconds, hop):
    n = round(seconds * SR)
    bounds = window_bounds(n, window=3.0, hop=hop)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    lengths = np.array([b - a for a, b in bounds])
    firsts = np.array([a for a, _ in bounds])
    assert np.all(lengths >= 0.75 * 3.0 * SR - 1) and np.all(lengths < 1.5 * 3.0 * SR)
    assert np.ptp(lengths) <= 2, "all windows of an utterance have one length"
    if hop is None:  # no overlap, no gap: every sample in exactly one window
        assert all(b == a2 for (_, b), (a2, _) in itertools.pairwise(bounds))
        assert len(bounds) == int(np.floor(seconds / 3.0 + 0.5)), "the count nearest"
    else:  # the overlap ratio is kept, the spacing near the hop
        spacing = np.diff(firsts).mean()
        assert lengths.mean() / spacing == pytest.approx(3.0 / hop, rel=0.01)
        assert 0.75 * hop * SR - 1 <= spacing < 1.5 * hop * SR


def test_an_utterance_up_to_one_and_a_half_windows_is_one_window_and_a_short_one_none():
    for seconds in (0.5, 2.2, 3.0, 4.49):
        n = round(seconds * SR)
        assert window_bounds(n) == [(0, n)]
    assert len(window_bounds(round(4.51 * SR))) == 2
    assert window_bounds(round(0.49 * SR)) == []
    assert window_bounds(round(0.49 * SR), min_window=0.3) == [(0, round(0.49 * SR))]
    assert window_bounds(0) == []


@pytest.mark.parametrize(
    "window, hop, min_window",
    [
        (3.0, 4.0, 0.5),
        (3.0, 0.0, 0.5),
        (-1.0, None, 0.5),
        (float("nan"), None, 0.5),
        (3.0, None, 4.0),
        ("3", None, 0.5),
        (True, None, 0.5),
        (0.05, None, 0.0),
    ],
)
def test_window_parameters_are_checked(window, hop, min_window):
    with pytest.raises(ParameterError):
        check_windows(window, hop, min_window)


def test_merge_runs_joins_one_label_within_the_gap():
    starts = [0.0, 3.0, 6.5, 9.0, 12.0, 20.0, 23.0]
    ends = [3.0, 6.0, 9.0, 12.0, 15.0, 23.0, 26.0]
    labels = ["sad", "sad", "sad", "anger", "sad", "sad", "sad"]
    # 6.0 -> 6.5 is a pause shorter than 1 s: the same run; 15 -> 20 is not.
    assert merge_runs(starts, ends, labels, max_gap=1.0) == [(0, 3), (3, 4), (4, 5), (5, 7)]
    assert merge_runs(starts, ends, labels, max_gap=0.0) == [(0, 2), (2, 3), (3, 4), (4, 5), (5, 7)]
    assert merge_runs([0.0, 1.0], [2.0, 3.0], ["a", "a"], max_gap=0.0) == [(0, 2)], "overlap"
    assert merge_runs([], [], []) == []


def test_partition_splits_overlaps_at_the_middle():
    starts, ends = partition([0.0, 1.5, 3.0, 7.0], [3.0, 4.5, 6.0, 8.0])
    np.testing.assert_allclose(starts, [0.0, 2.25, 3.75, 7.0])
    np.testing.assert_allclose(ends, [2.25, 3.75, 6.0, 8.0])


def _frame(rows, labels=("anger", "sad")):
    """A timeline frame from (start, end, channel, probabilities) rows."""
    index = pd.MultiIndex.from_tuples([(s, e) for s, e, _, _ in rows], names=["start", "end"])
    p = np.array([r[3] for r in rows], dtype=float)
    frame = pd.DataFrame(
        {
            "channel": [r[2] for r in rows],
            "label": [labels[i] for i in p.argmax(axis=1)],
            "confidence": p.max(axis=1),
            **{f"p_{k}": p[:, i] for i, k in enumerate(labels)},
        },
        index=index,
    )
    return frame


def test_merged_segments_average_their_windows_by_duration():
    frame = _frame(
        [
            (0.0, 3.0, "ch1", [0.9, 0.1]),
            (0.5, 2.0, "ch2", [0.2, 0.8]),
            (3.0, 4.0, "ch1", [0.6, 0.4]),
            (4.5, 7.5, "ch1", [0.3, 0.7]),
            (2.5, 4.0, "ch2", [0.1, 0.9]),
        ]
    ).sort_index()
    merged = _merge(frame, ["anger", "sad"], 1.0)
    assert merged.index.tolist() == [(0.0, 4.0), (0.5, 4.0), (4.5, 7.5)]
    assert merged["channel"].tolist() == ["ch1", "ch2", "ch1"]
    assert merged["label"].tolist() == ["anger", "sad", "sad"]
    assert merged["p_anger"].iloc[0] == pytest.approx((3 * 0.9 + 1 * 0.6) / 4)
    assert merged["p_sad"].iloc[1] == pytest.approx((1.5 * 0.8 + 1.5 * 0.9) / 3)
    assert merged["confidence"].iloc[0] == merged["p_anger"].iloc[0]


def test_summary_counts_each_second_of_speech_once():
    frame = _frame(
        [
            (0.0, 3.0, "mix", [0.9, 0.1]),
            (1.5, 4.5, "mix", [0.2, 0.8]),  # overlaps the first by 1.5 s
            (10.0, 11.0, "mix", [0.6, 0.4]),
        ]
    )
    shares = summary(frame)
    assert shares.loc["mix", "speech"] == pytest.approx(5.5)
    assert shares.loc["mix", "anger"] == pytest.approx((2.25 + 1.0) / 5.5)
    assert shares.loc["mix", "sad"] == pytest.approx(2.25 / 5.5)


# -- block-wise reading -----------------------------------------------------------------------
def _read(stream: AudioStream) -> np.ndarray:
    with stream:
        return np.concatenate(list(stream))


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory):
    """7.3 s of two different channels at 44.1 kHz, 16-bit WAV, and the samples written."""
    rng = np.random.default_rng(3)
    t = np.arange(int(7.3 * 44_100)) / 44_100
    left = 0.4 * np.sin(2 * np.pi * 220 * t) * (t < 4) + 0.01 * rng.standard_normal(t.size)
    right = 0.3 * np.sin(2 * np.pi * 330 * t) * (t > 3) + 0.01 * rng.standard_normal(t.size)
    data = (np.stack([left, right], 1) * 32767).astype(np.int16)
    path = tmp_path_factory.mktemp("stream") / "stereo.wav"
    sf.write(path, data, 44_100, subtype="PCM_16")
    return path, data


@pytest.mark.parametrize("block", [0.05, 1.3, 100.0])
def test_mixed_blocks_equal_load_audio(stereo_44k, block):
    path, _ = stereo_44k
    streamed = _read(AudioStream(path, block_duration=block))
    assert streamed.shape[1] == 1
    np.testing.assert_array_equal(streamed[:, 0], load_audio(path))


@pytest.mark.parametrize("block", [0.05, 2.0])
def test_each_channel_equals_load_audio_of_that_channel(stereo_44k, block):
    path, data = stereo_44k
    stream = AudioStream(path, channels="each", block_duration=block)
    assert stream.names == ["ch1", "ch2"]
    streamed = _read(stream)
    for c in range(2):
        np.testing.assert_array_equal(streamed[:, c], load_audio(data[:, c], sample_rate=44_100))


def test_16k_mono_flac_bytes_and_arrays_stream_as_load_audio(tmp_path):
    signal = np.concatenate([buzz(2.0), quiet(1.5)])
    path = tmp_path / "a.flac"
    sf.write(path, signal, SR)
    whole = load_audio(path)
    np.testing.assert_array_equal(_read(AudioStream(path, block_duration=0.7))[:, 0], whole)
    as_bytes = _read(AudioStream(path.read_bytes()))[:, 0]
    np.testing.assert_array_equal(as_bytes, whole)
    as_array = _read(AudioStream(signal, sample_rate=SR, block_duration=0.3))[:, 0]
    np.testing.assert_array_equal(as_array, load_audio(signal, sample_rate=SR))
    with pytest.raises(AudioError, match="sample rate"):
        AudioStream(signal)


def _truncated(tmp_path, fmt: str, signal: np.ndarray, rate: int, keep: float):
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, format=fmt, subtype="PCM_16")
    data = buffer.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_a_truncated_file_is_read_up_to_the_break_and_the_error_stated(tmp_path, fmt):
    rate = 24_000
    signal = (0.3 * np.random.default_rng(0).standard_normal(rate * 10)).astype(np.float32)
    path = _truncated(tmp_path, fmt, signal, rate, keep=0.5)
    stream = AudioStream(path, block_duration=0.5)
    streamed = _read(stream)[:, 0]
    assert stream.error is not None and "truncated" in stream.error
    assert 3.0 < streamed.size / SR < 5.5, "about half of it read"
    whole = tmp_path / f"whole.{fmt.lower()}"
    sf.write(whole, signal, rate, subtype="PCM_16")
    reference = load_audio(whole)
    # What was read is the start of the whole file, resampled alike, except next to the
    # break (where the resampler's filter meets the end of the samples).
    n = streamed.size - SR // 10
    np.testing.assert_array_equal(streamed[:n], reference[:n])


def test_stream_arguments_are_judged_before_opening(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(ParameterError, match="channels"):
        AudioStream(missing, channels="left")
    with pytest.raises(ParameterError, match="block_duration"):
        AudioStream(missing, block_duration=0)
    with pytest.raises(AudioError, match="No such file"):
        AudioStream(missing)
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(AudioError, match="Cannot decode"):
        AudioStream(tmp_path / "text.wav")


def test_envelope_keeps_the_peaks_in_at_most_max_bins():
    rng = np.random.default_rng(5)
    signal = (rng.standard_normal((SR * 37 + 123, 2)) * rng.uniform(0, 1, (1, 2))).astype(
        np.float32
    )
    envelope = Envelope(bin_duration=0.01, max_bins=100)
    position = 0
    while position < signal.shape[0]:
        size = int(rng.integers(1, SR * 2))
        envelope.add(signal[position : position + size])
        position += size
    peaks = envelope.peaks
    assert peaks.shape[0] <= 100 and envelope.samples == signal.shape[0]
    width = envelope.bin
    assert width > 160 and width % 160 == 0, "bins doubled from 10 ms"
    expected = [np.abs(signal[i : i + width]).max(axis=0) for i in range(0, signal.shape[0], width)]
    np.testing.assert_array_equal(peaks, np.array(expected))


# -- the engine ---------------------------------------------------------------------------------
def test_a_window_gets_exactly_the_probabilities_of_predict_signal(recognizer, tmp_path):
    """Same audio, same answer: every row equals predict_signal on its samples, for each
    channel of a 22.05 kHz stereo file (so through the stream's resampler)."""
    rate = 22_050
    left = np.concatenate([quiet(1.0), buzz(4.2), quiet(1.0), buzz(1.4, f0=110), quiet(1.0)])
    right = np.concatenate([quiet(2.5), buzz(2.0, f0=90, seed=2), quiet(4.1, seed=3)])
    stereo = np.stack([load_audio(x, sample_rate=SR, target_rate=rate) for x in (left, right)], 1)
    path = tmp_path / "call.wav"
    sf.write(path, stereo, rate, subtype="FLOAT")
    frame = recognizer.timeline(path, channels="each", window=2.0)
    assert set(frame["channel"]) == {"ch1", "ch2"}
    assert len(frame) >= 4
    labels = recognizer.labels
    for c, name in enumerate(["ch1", "ch2"]):
        channel = load_audio(stereo[:, c], sample_rate=rate)
        part = frame[frame["channel"] == name]
        for (start, end), row in zip(part.index, part.itertuples(index=False), strict=True):
            samples = channel[round(start * SR) : round(end * SR)]
            expected = recognizer.predict_signal(samples, sample_rate=SR)
            got = [getattr(row, f"p_{k}") for k in labels]
            assert got == [expected.probabilities[k] for k in labels]
            assert row.label == expected.label and row.confidence == expected.confidence


def test_classes_restrict_the_answer_and_progress_is_reported(recognizer):
    signal = np.concatenate([quiet(0.5), buzz(2.5), quiet(1.0), buzz(1.5, f0=120), quiet(0.5)])
    calls = []

    def hook(step, artifact=None, *, total=None, completed=None):
        calls.append((step, total, completed))

    frame = recognizer.timeline(signal, sample_rate=SR, classes="Sad,anger", hook=hook)
    assert [c for c in frame.columns if c.startswith("p_")] == ["p_anger", "p_sad"]
    np.testing.assert_allclose(frame[["p_anger", "p_sad"]].sum(axis=1), 1.0)
    for (start, end), row in zip(frame.index, frame.itertuples(index=False), strict=True):
        expected = recognizer.predict_signal(
            signal[round(start * SR) : round(end * SR)], sample_rate=SR, classes=["anger", "sad"]
        )
        assert row.p_anger == expected.probabilities["anger"]
        assert row.p_sad == expected.probabilities["sad"]
    assert calls[0][2] == 0 and calls[-1][1] == calls[-1][2] == 6, calls


def test_pictures_of_a_timeline_with_and_without_speech(tmp_path):
    from emovox.timeline import empty_timeline
    from emovox.timeline_plot import class_colors, plot_timeline

    frame = _frame([(0.5, 3.0, "ch1", [0.7, 0.3]), (4.0, 6.0, "ch2", [0.2, 0.8])])
    frame.attrs.update(channels=["ch1", "ch2"], duration=7.0)
    envelope = Envelope()
    envelope.add(np.stack([buzz(7.0), quiet(7.0)], 1))
    cases = [("speech.png", frame, envelope), ("none.png", empty_timeline(["a", "b"]), None)]
    for name, table, outline in cases:
        path = plot_timeline(table, tmp_path / name, envelope=outline, title=name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size < 200_000
    assert class_colors(["anger", "joy", "calm"])["anger"] == "#d62728"
    assert len(set(class_colors(["a", "b", "c", "d"]).values())) == 4


def test_silence_and_noise_alone_give_an_empty_timeline(recognizer):
    for signal in (np.zeros(SR * 20, np.float32), pink(20.0, level=0.1), quiet(20.0, level=0.05)):
        frame = recognizer.timeline(signal, sample_rate=SR)
        assert frame.empty
        assert list(frame.columns) == ["channel", "label", "confidence"] + [
            f"p_{k}" for k in recognizer.labels
        ]
        assert frame.index.names == ["start", "end"]
        assert frame.attrs["duration"] == pytest.approx(20.0)
        assert summary(frame).empty and timeline_records(frame) == []


def test_a_truncated_recording_is_analysed_up_to_the_break(
    recognizer, tmp_path, monkeypatch, capsys
):
    parts = [quiet(0.5), buzz(2.0), quiet(1.0), buzz(2.0, seed=4), quiet(1.0), buzz(2.0, seed=5)]
    signal = np.concatenate([*parts, quiet(1.5)])
    path = _truncated(tmp_path, "FLAC", signal, SR, keep=0.55)
    frame = recognizer.timeline(path)
    warnings = frame.attrs["warnings"]
    assert len(warnings) == 1 and "truncated" in warnings[0]
    ends = frame.index.get_level_values("end")
    assert len(frame) >= 1 and ends.max() <= frame.attrs["duration"] + 1e-9
    assert 3.0 < frame.attrs["duration"] < 7.0
    code, out, err = run_cli(monkeypatch, capsys, "timeline", str(path), "--json")
    (result,) = json.loads(out)
    assert code == 0 and "truncated" in err
    assert "truncated" in result["warnings"][0] and len(result["rows"]) == len(frame)


def test_a_multi_hour_recording_streams_in_constant_memory(recognizer, tmp_path):
    """2 h 10 min of near-silence with three bursts (load_audio refuses over an hour): the
    bursts are found at their times and the memory traced stays far below the file's 500 MB
    as float32. A stand-in VAD keeps it fast; the silero path is the same code."""
    hours = 2 + 10 / 60
    total = int(hours * 3600 * SR)
    bursts = {10.0: 0, 3600.0 * 1.5: 1, hours * 3600 - 5.0: 2}
    path = tmp_path / "long.flac"
    block = SR * 600
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as f:
        for first in range(0, total, block):
            data = np.zeros(min(block, total - first), np.float32)
            for at, seed in bursts.items():
                offset = round(at * SR) - first
                if 0 <= offset < data.size:
                    burst = buzz(2.0, seed=seed)[: data.size - offset]
                    data[offset : offset + burst.size] = burst
            f.write(data)
    tracemalloc.start()
    try:
        frame = recognizer.timeline(path, vad=EnergyVad(), block_duration=8.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frame.attrs["duration"] == pytest.approx(total / SR)
    starts = frame.index.get_level_values("start").to_numpy()
    assert len(frame) == 3
    np.testing.assert_allclose(starts, np.array(sorted(bursts)) - VAD_PAD, atol=0.1)
    assert peak < 40e6, f"{peak / 1e6:.0f} MB traced"


def test_recognizer_timeline_defaults_and_argument_checks(recognizer, tmp_path):
    import inspect

    from emovox import Recognizer

    assert inspect.signature(Recognizer.timeline).parameters["window"].default == DEFAULT_WINDOW
    missing = tmp_path / "missing.wav"
    for bad in ({"window": 2.0, "hop": 3.0}, {"channels": "both"}, {"merge": "yes"}):
        with pytest.raises(ParameterError):
            recognizer.timeline(missing, **bad)
    with pytest.raises(AudioError):
        recognizer.timeline(missing)


def test_predict_points_to_timeline_for_a_long_recording(recognizer):
    from emovox.recognizer import LONG_RECORDING

    long = np.concatenate([buzz(5.0)] * 7)[: round((LONG_RECORDING + 1) * SR)]
    warnings = recognizer.predict_signal(long, sample_rate=SR).warnings
    assert any("31 s long" in w and "emovox timeline" in w for w in warnings), warnings
    short = recognizer.predict_signal(long[: SR * 10], sample_rate=SR).warnings
    assert not any("timeline" in w for w in short)


# -- the command ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def buzz_file(tmp_path_factory):
    signal = np.concatenate(
        [quiet(1.0), buzz(3.5), quiet(2.0), buzz(1.2, f0=120, seed=2), quiet(1.0)]
    )
    path = tmp_path_factory.mktemp("cli") / "buzz.wav"
    sf.write(path, signal, SR)
    return path


def test_cli_writes_the_rows_it_prints_and_a_picture(buzz_file, tmp_path, monkeypatch, capsys):
    rows, picture = tmp_path / "rows.csv", tmp_path / "t.png"
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "timeline",
        str(buzz_file),
        "--json",
        "--out",
        str(rows),
        "--plot",
        str(picture),
        "--merge",
    )
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["status"] == "ok" and result["merged"] is True
    table = pd.read_csv(rows)
    assert list(table.columns[:6]) == ["file", "start", "end", "channel", "label", "confidence"]
    assert len(table) == len(result["rows"]) >= 2
    for written, row in zip(table.itertuples(index=False), result["rows"], strict=True):
        assert (written.start, written.end) == (row["start"], row["end"])
        assert written.label == row["label"]
    shares = result["summary"]["mix"]["shares"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table_summary_and_failures(buzz_file, tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(
        monkeypatch, capsys, "timeline", str(buzz_file), str(tmp_path / "missing.wav")
    )
    assert code == 1
    assert "share of speech time" in out and "emotion" in out
    assert "missing.wav" in err and "No such file" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "rows.txt"], "must end in"),
        (["--plot", "p.jpg"], "must end in"),
        (["--hop", "5"], "hop"),
        (["--channels", "left"], "channels"),
        (["--classes", "anger,joy"], "no class"),
    ],
)
def test_cli_refuses_bad_options_before_reading(
    buzz_file, tmp_path, monkeypatch, capsys, args, message
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(monkeypatch, capsys, "timeline", str(buzz_file), *args)
    assert code == 2 and message in err
    assert not list(tmp_path.iterdir())


# -- real speech ---------------------------------------------------------------------------------
CLIPS = {  # RAVDESS actor 14, strong intensity, statement 1, repetition 1
    "anger": "03-01-05-02-01-01-14",
    "sad": "03-01-04-02-01-01-14",
    "happy": "03-01-03-02-01-01-14",
    "fear": "03-01-06-02-01-01-14",
    "surprise": "03-01-08-02-01-01-14",
    "disgust": "03-01-07-02-01-01-14",
}


def trim_by_energy(signal: np.ndarray, top_db: float = 40.0) -> np.ndarray:
    frame = int(0.02 * SR)
    count = signal.size // frame
    rms = np.sqrt(np.mean(signal[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    loud = np.flatnonzero(db >= db.max() - top_db)
    return signal[max(0, (loud[0] - 1) * frame) : min(signal.size, (loud[-1] + 2) * frame)]


@pytest.fixture(scope="module")
def ravdess_clips(corpus_root):
    root = corpus_root("ravdess") / "Actor_14"
    clips = {}
    for label, stem in CLIPS.items():
        found = sorted(root.glob(stem + ".*"))
        if not found:
            pytest.skip(f"{stem} not found under {root}")
        clips[label] = trim_by_energy(load_audio(found[0]))
    return clips


@pytest.mark.corpus
@pytest.mark.parametrize("gaps", ["silence", "noise"])
def test_segments_line_up_with_the_clips_and_labels_are_mostly_right(
    recognizer, ravdess_clips, gaps
):
    rng = np.random.default_rng(11)
    speech_level = float(np.sqrt(np.mean(np.concatenate(list(ravdess_clips.values())) ** 2)))
    parts, truth, position = [], [], 0
    for label, speech in ravdess_clips.items():
        seconds = rng.uniform(1.0, 2.5)
        filler = (
            quiet(seconds, seed=position, level=3e-4)
            if gaps == "silence"
            else pink(seconds, level=speech_level * 10 ** (-10 / 20), seed=position)
        )
        parts += [filler, speech]
        start = (position + filler.size) / SR
        truth.append((start, start + speech.size / SR, label))
        position += filler.size + speech.size
    parts.append(quiet(1.0) if gaps == "silence" else pink(1.0, level=speech_level * 0.3))
    signal = np.concatenate(parts)

    frame = recognizer.timeline(signal, sample_rate=SR, merge=True, merge_gap=0.5)
    starts = frame.index.get_level_values("start").to_numpy()
    ends = frame.index.get_level_values("end").to_numpy()
    errors, right = [], 0
    for start, end, label in truth:
        mine = (ends > start) & (starts < end)
        assert mine.any(), f"the {label} clip at {start:.1f} s was missed"
        # Segments are the speech found, widened by VAD_PAD on purpose.
        errors += [starts[mine].min() - (start - VAD_PAD), ends[mine].max() - (end + VAD_PAD)]
        # Label: the segments inside the clip, weighted by their overlap.
        overlap = np.minimum(ends[mine], end) - np.maximum(starts[mine], start)
        votes = pd.Series(overlap, index=frame["label"].to_numpy()[mine]).groupby(level=0).sum()
        right += votes.idxmax() == label
    inside = np.zeros(len(frame), bool)
    for start, end, _ in truth:
        inside |= (ends > start) & (starts < end)
    assert inside.all(), "no segment lies wholly in a gap"
    errors = np.abs(errors)
    assert np.median(errors) < 0.3 and errors.max() < 0.8, errors.round(2)
    assert right >= 4, f"{right} of {len(truth)} clips labelled right"


@pytest.mark.corpus
def test_each_channel_is_analysed_as_its_own_speaker(recognizer, ravdess_clips, tmp_path):
    anger, sad = ravdess_clips["anger"], ravdess_clips["sad"]
    gap = quiet(1.0, level=3e-4)
    left = np.concatenate([gap, anger, gap, np.zeros_like(sad), gap])
    right = np.concatenate([gap, np.zeros_like(anger), gap, sad, gap]) + quiet(
        (left.size) / SR, seed=9, level=3e-4
    )
    path = tmp_path / "call.flac"
    sf.write(path, np.stack([left, right], 1), SR)
    frame = recognizer.timeline(path, channels="each", merge=True)
    anger_end = (gap.size + anger.size) / SR
    sad_start = anger_end + gap.size / SR
    ch1, ch2 = frame[frame["channel"] == "ch1"], frame[frame["channel"] == "ch2"]
    assert len(ch1) and len(ch2)
    assert ch1.index.get_level_values("end").max() < anger_end + VAD_PAD + 0.2
    assert ch2.index.get_level_values("start").min() > sad_start - VAD_PAD - 0.2
    assert set(ch1["label"]) == {"anger"} and set(ch2["label"]) == {"sad"}
    mixed = recognizer.timeline(path)
    assert set(mixed["channel"]) == {"mix"}
    assert set(summary(frame).index) == {"ch1", "ch2"}
