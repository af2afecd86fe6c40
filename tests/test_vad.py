"""Voice activity detection: post-processing steps, the silero ONNX runner, streaming, verdicts."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import make_tone
from emovox.audio import load_audio
from emovox.errors import AudioError, ModelError, ParameterError
from emovox.segmentation import (
    CHUNK_MODEL,
    FRAME_DURATION,
    Region,
    SileroVad,
    VadParams,
    binarize,
    drop_short,
    has_speech,
    hysteresis,
    merge_close,
    model_path,
    pad_regions,
    shared_vad,
    silero,
    speech_duration,
    speech_probabilities,
    speech_ratio,
    speech_regions,
    speech_summary,
)
from helpers import buzz as voiced_buzz
from helpers import quiet as silence

SR = 16_000


def buzz_in_silence() -> np.ndarray:
    """1 s quiet, 1.5 s voiced buzz, 1 s quiet."""
    return np.concatenate([silence(1.0), voiced_buzz(1.5), silence(1.0, seed=2)])


def regions_of(*pairs: tuple[float, float]) -> list[Region]:
    return [Region(start, end) for start, end in pairs]


# --- pure post-processing ------------------------------------------------------------------


def test_hysteresis_opens_above_onset_and_closes_below_offset():
    probs = [0.1, 0.6, 0.4, 0.4, 0.3, 0.1, 0.45, 0.9, 0.2]
    regions = hysteresis(probs, onset=0.5, offset=0.35, frame_duration=1.0)
    # 0.4 stays above the offset, so the first region lasts until the 0.3; 0.45 opens nothing.
    assert regions == regions_of((1.0, 4.0), (7.0, 8.0))


def test_hysteresis_with_equal_thresholds_cuts_at_every_dip():
    probs = [0.6, 0.4, 0.6]
    assert hysteresis(probs, onset=0.5, offset=0.5, frame_duration=1.0) == regions_of(
        (0.0, 1.0), (2.0, 3.0)
    )
    assert hysteresis(probs, onset=0.5, offset=0.3, frame_duration=1.0) == regions_of((0.0, 3.0))


def test_hysteresis_keeps_a_region_still_open_at_the_end():
    regions = hysteresis([0.0, 0.9, 0.9], onset=0.5, offset=0.35, frame_duration=0.032)
    assert regions == [Region(0.032, 0.096)]


def test_hysteresis_rejects_offset_above_onset():
    with pytest.raises(ParameterError, match="offset"):
        hysteresis([0.5], onset=0.3, offset=0.6, frame_duration=0.032)


def test_merge_close_fills_gaps_shorter_than_min_duration_off_only():
    regions = regions_of((0.0, 1.0), (1.05, 2.0), (2.5, 3.0))
    assert merge_close(regions, min_duration_off=0.1) == regions_of((0.0, 2.0), (2.5, 3.0))
    assert merge_close(regions, min_duration_off=0.6) == regions_of((0.0, 3.0))
    assert merge_close(regions, min_duration_off=0.0) == regions


def test_merge_close_joins_overlapping_regions_given_out_of_order():
    regions = regions_of((2.0, 3.0), (0.0, 2.5))
    assert merge_close(regions, min_duration_off=0.0) == regions_of((0.0, 3.0))


def test_drop_short_removes_regions_below_min_duration_on():
    regions = regions_of((0.0, 0.2), (1.0, 1.3), (2.0, 2.24))
    assert drop_short(regions, min_duration_on=0.25) == regions_of((1.0, 1.3))


def test_pad_regions_clips_to_the_signal_and_merges_what_meets():
    regions = regions_of((0.02, 0.5), (0.55, 1.0), (2.0, 2.98))
    padded = pad_regions(regions, pad=0.03, duration=3.0)
    assert padded == regions_of((0.0, 1.03), (1.97, 3.0))


def test_binarize_drops_short_speech_before_padding():
    # 7 frames (0.224 s) of speech: padding would make it 0.284 s, but it is still dropped.
    probs = np.r_[np.zeros(10), np.ones(7), np.zeros(10)]
    params = VadParams(min_duration_on=0.25, pad=0.03)
    assert binarize(probs, params, frame_duration=FRAME_DURATION) == []
    assert binarize(probs, VadParams(min_duration_on=0.2, pad=0.03), frame_duration=0.032) == [
        Region(pytest.approx(0.32 - 0.03), pytest.approx(0.544 + 0.03))
    ]


def test_binarize_clips_the_zero_padded_last_frame_to_the_signal():
    probs = np.r_[np.zeros(5), np.ones(20)]
    (region,) = binarize(probs, VadParams(pad=0.03), frame_duration=0.032, duration=0.79)
    assert region.end == 0.79


def test_speech_duration_counts_overlaps_once():
    assert speech_duration(regions_of((0.0, 1.0), (0.5, 1.5), (3.0, 3.5))) == 2.0
    assert speech_duration([]) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"onset": 0.3, "offset": 0.5},
        {"onset": 1.5},
        {"offset": -0.1},
        {"min_duration_on": -1.0},
        {"min_duration_off": float("nan")},
        {"pad": float("inf")},
    ],
)
def test_vad_params_reject_impossible_values(kwargs):
    with pytest.raises(ParameterError) as error:
        VadParams(**kwargs)
    assert isinstance(error.value, ValueError)


def test_vad_params_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        VadParams(0.5)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        VadParams().onset = 0.1  # type: ignore[misc]


# --- the model file ------------------------------------------------------------------------


def test_model_files_are_found_through_package_metadata():
    for name in (silero.SEQUENCE_MODEL, CHUNK_MODEL):
        path = model_path(name)
        assert path.is_file()
        assert path.parts[-3:] == ("silero_vad", "data", name)


def test_missing_package_raises_model_error_saying_what_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelError, match=r"pip install --no-deps silero-vad==6\.2\.3"):
        SileroVad()


def test_a_model_file_with_another_checksum_is_refused(monkeypatch):
    monkeypatch.setitem(silero.PACKAGED, silero.SEQUENCE_MODEL, "0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        model_path()


def test_an_onnx_file_that_is_not_silero_is_refused(tmp_path: Path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ModelError, match="not a silero"):
        SileroVad(path)
    with pytest.raises(ModelError, match="No VAD model file"):
        SileroVad(tmp_path / "absent.onnx")


def test_importing_emovox_loads_neither_onnxruntime_nor_torch():
    code = (
        "import sys, emovox, emovox.segmentation; "
        "print(sorted(m for m in ('onnxruntime', 'torch', 'silero_vad') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- inference -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chunk_vad() -> SileroVad:
    return SileroVad(model_path(CHUNK_MODEL))


@pytest.mark.parametrize("samples", [0, 1, 511, 512, 513, 16_000])
def test_one_probability_per_started_chunk(samples):
    probs = shared_vad().probabilities(silence(samples / SR) if samples else np.zeros(0))
    assert probs.shape == (-(-samples // 512),)
    assert probs.dtype == np.float32
    assert np.all((probs >= 0) & (probs <= 1))


def test_sequence_and_chunk_graphs_give_the_same_probabilities(chunk_vad):
    signal = buzz_in_silence()
    assert shared_vad().graph == "sequence" and chunk_vad.graph == "chunk"
    sequence = shared_vad().probabilities(signal)
    chunked = chunk_vad.probabilities(signal)
    assert sequence.max() > 0.9 and sequence.min() < 0.1  # a track worth comparing
    np.testing.assert_allclose(sequence, chunked, atol=1e-5)


@pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning")
def test_probabilities_match_silero_vads_own_implementation():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    try:
        silero_vad = pytest.importorskip("silero_vad")  # sets torch's threads to 1 on import
        reference_model = silero_vad.load_silero_vad(onnx=True)
        signal = np.concatenate([buzz_in_silence(), silence(0.3)[:777]])
        reference = reference_model.audio_forward(torch.from_numpy(signal), SR).numpy().ravel()
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(shared_vad().probabilities(signal), reference, atol=1e-5)


@pytest.mark.parametrize("graph", ["sequence", "chunk"])
def test_stream_blocks_give_the_whole_signal_probabilities(graph, chunk_vad):
    vad = shared_vad() if graph == "sequence" else chunk_vad
    signal = buzz_in_silence()
    whole = vad.probabilities(signal)
    sizes = [0, 1, 63, 64, 511, 512, 513, 5000, 17, 30_000]
    stream = vad.stream()
    parts, start = [], 0
    for size in sizes * 10:
        parts.append(stream.process(signal[start : start + size]))
        start += size
        if start >= signal.size:
            break
    parts.append(stream.flush())
    assert start >= signal.size
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_stream_counts_frames_and_is_fresh_after_flush():
    vad = shared_vad()
    signal = buzz_in_silence()
    stream = vad.stream()
    first = stream.process(signal)
    assert stream.frames == first.size == signal.size // 512
    first = np.concatenate([first, stream.flush()])
    assert stream.frames == 0
    again = np.concatenate([stream.process(signal), stream.flush()])
    np.testing.assert_array_equal(first, again)


def test_stream_state_is_its_own():
    vad = shared_vad()
    signal = buzz_in_silence()
    busy, fresh = vad.stream(), vad.stream()
    busy.process(signal[: SR * 2])
    np.testing.assert_array_equal(
        np.concatenate([fresh.process(signal), fresh.flush()]), vad.probabilities(signal)
    )


def test_concurrent_callers_get_the_results_of_serial_calls():
    vad = shared_vad()
    signals = [buzz_in_silence(), make_tone(duration=2.0), silence(3.0), voiced_buzz(2.0, f0=80)]
    serial = [vad.probabilities(signal) for signal in signals]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(vad.probabilities, signals * 4))
    for index, probs in enumerate(parallel):
        np.testing.assert_array_equal(probs, serial[index % len(signals)])


def test_shared_vad_is_loaded_once_under_concurrent_first_calls(monkeypatch):
    monkeypatch.setattr(silero, "_shared", None)
    loads = []
    original = silero.SileroVad.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(threading.get_ident())
        original(self, *args, **kwargs)

    monkeypatch.setattr(silero.SileroVad, "__init__", counting_init)
    with ThreadPoolExecutor(max_workers=8) as pool:
        instances = list(pool.map(lambda _: shared_vad(), range(16)))
    assert len(loads) == 1
    assert all(instance is instances[0] for instance in instances)


@pytest.mark.parametrize(
    ("signal", "error"),
    [
        (np.zeros((2, 1600), np.float32), ParameterError),
        (np.zeros(1600, np.int16), ParameterError),
        (np.r_[np.zeros(1600), np.nan], AudioError),
    ],
)
def test_unusable_signals_are_refused(signal, error):
    with pytest.raises(error):
        shared_vad().probabilities(signal)
    with pytest.raises(error):
        shared_vad().stream().process(signal)


def test_a_bad_sample_rate_is_a_parameter_error():
    with pytest.raises(ParameterError):
        speech_regions(silence(1.0), sample_rate=16_000.0)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        speech_regions(silence(1.0), sample_rate=0)


# --- verdicts ------------------------------------------------------------------------------


def clipped_square(duration: float = 3.0, freq: float = 200.0) -> np.ndarray:
    t = np.arange(int(SR * duration)) / SR
    return np.clip(5 * np.sin(2 * np.pi * freq * t), -1, 1).astype(np.float32)


NOT_SPEECH = {
    "digital silence": lambda: np.zeros(3 * SR, np.float32),
    "white noise": lambda: (0.1 * np.random.default_rng(3).standard_normal(3 * SR)).astype(
        np.float32
    ),
    "harmonic tone": lambda: make_tone(duration=3.0),
    "sine 440 Hz": lambda: (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR)).astype(
        np.float32
    ),
    "clipped square wave": clipped_square,
}


@pytest.mark.parametrize("name", NOT_SPEECH)
def test_tones_noise_silence_and_square_waves_hold_no_speech(name):
    signal = NOT_SPEECH[name]()
    summary = speech_summary(signal)
    assert summary.regions == []
    assert summary.speech == 0.0 and summary.ratio == 0.0
    assert not summary.has_speech
    assert not has_speech(signal)
    assert speech_probabilities(signal).max() < 0.5


def test_a_voiced_buzz_is_found_where_it_is():
    # The positive control: without it, a detector that always said "no" would pass the above.
    summary = speech_summary(buzz_in_silence())
    assert summary.has_speech
    (region,) = summary.regions
    assert region.start == pytest.approx(1.0, abs=0.1)
    assert 2.5 <= region.end <= 2.8
    assert summary.speech == pytest.approx(1.6, abs=0.15)
    assert summary.ratio == pytest.approx(summary.speech / 3.5)
    assert speech_ratio(buzz_in_silence()) == summary.ratio


def test_min_speech_decides_the_verdict():
    signal = buzz_in_silence()
    assert has_speech(signal, min_speech=1.0)
    assert not has_speech(signal, min_speech=2.0)
    with pytest.raises(ParameterError):
        has_speech(signal, min_speech=-1.0)


def test_regions_do_not_depend_on_the_input_sample_rate():
    signal = buzz_in_silence()
    at_16k = speech_regions(signal)
    at_48k = speech_regions(soxr.resample(signal, SR, 48_000), sample_rate=48_000)
    # Read as 16 kHz, the 48 kHz signal would last 10.5 s with the buzz at 3 s to 7.5 s.
    assert len(at_16k) == len(at_48k) == 1
    assert at_48k[0].start == pytest.approx(at_16k[0].start, abs=FRAME_DURATION + 1e-9)
    # The fading end of the buzz sits near the offset threshold: a few frames either way.
    assert at_48k[0].end == pytest.approx(at_16k[0].end, abs=0.1)


def test_stricter_params_find_less_speech():
    signal = buzz_in_silence()
    loose = speech_summary(signal, params=VadParams(onset=0.3, offset=0.2))
    strict = speech_summary(signal, params=VadParams(onset=0.99, offset=0.95))
    assert strict.speech < loose.speech


# --- real speech ---------------------------------------------------------------------------

# Fixed picks across speakers, emotions and intensities (not the strong-intensity shouts that
# silero misses about 1 time in 40: see emovox.segmentation.vad).
REAL_SPEECH = {
    "ravdess": [
        "Actor_01/03-01-01-01-01-01-01.flac",
        "Actor_02/03-01-05-01-02-01-02.flac",
        "Actor_05/03-01-04-02-01-02-05.flac",
        "Actor_08/03-01-03-02-02-01-08.flac",
        "Actor_12/03-01-08-01-01-01-12.flac",
        "Actor_19/03-01-06-02-01-01-19.flac",
    ],
    "emodb": ["wav/03a01Fa.flac", "wav/08a02Wc.flac", "wav/11a01Wc.flac", "wav/16a01Nc.flac"],
    "tess": [
        "OAF_angry/OAF_back_angry.flac",
        "YAF_sad/YAF_bath_sad.flac",
        "OAF_neutral/OAF_youth_neutral.flac",
    ],
}


@pytest.mark.corpus
@pytest.mark.parametrize("corpus", sorted(REAL_SPEECH))
def test_real_speech_is_found(corpus, corpus_root):
    root = corpus_root(corpus)
    for name in REAL_SPEECH[corpus]:
        path = root / name
        if not path.exists():
            pytest.skip(f"{path} is not in this copy of {corpus}")
        signal = load_audio(path)
        summary = speech_summary(signal)
        assert summary.has_speech, name
        assert 0.3 < summary.ratio <= 1.0, (name, summary)


@pytest.mark.corpus
def test_streaming_a_file_in_blocks_matches_the_whole_file(corpus_root):
    path = corpus_root("ravdess") / "Actor_01/03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} is not in this copy of RAVDESS")
    assert sf.info(path).samplerate == SR  # the shared copy is 16 kHz; no resampling here
    stream = shared_vad().stream()
    parts = [stream.process(block) for block in sf.blocks(path, blocksize=1000, dtype="float32")]
    parts.append(stream.flush())
    whole = shared_vad().probabilities(load_audio(path))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
