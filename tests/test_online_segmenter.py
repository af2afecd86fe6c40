"""The streaming utterance segmenter: same regions as the whole-signal VAD, bounded memory."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from emovox.errors import ParameterError
from emovox.segmentation import VadParams, binarize, shared_vad
from emovox.segmentation.online import UtteranceSegmenter
from helpers import buzz, quiet

SR = 16_000


def recording() -> np.ndarray:
    """Buzzes of several lengths between pauses, some pauses shorter than min_duration_off."""
    parts = [quiet(0.7), buzz(2.0), quiet(1.0, seed=2), buzz(1.5, f0=110, seed=3)]
    parts += [quiet(0.05, seed=4), buzz(1.0, seed=5), quiet(1.2, seed=6), buzz(2.5, seed=7)]
    return np.concatenate([*parts, quiet(0.8, seed=8)])


def segment(signal: np.ndarray, blocks: list[int], **kwargs) -> list:
    segmenter = UtteranceSegmenter(**kwargs)
    found, position, i = [], 0, 0
    while position < signal.size:
        size = blocks[i % len(blocks)]
        found += segmenter.push(signal[position : position + size])
        position += size
        i += 1
    return found + segmenter.flush()


@pytest.mark.parametrize("blocks", [[512], [1], [1000, 3, 4096], [SR * 10]])
def test_streamed_utterances_are_the_whole_signal_regions(blocks):
    signal = recording()
    if blocks == [1]:
        signal = signal[: SR * 4]  # one sample at a time: keep it short
    vad = shared_vad()
    params = VadParams()
    expected = binarize(
        vad.probabilities(signal), params, frame_duration=vad.frame_duration,
        duration=signal.size / SR,
    )  # fmt: skip
    found = segment(signal, blocks)
    assert len(expected) >= (1 if blocks == [1] else 3)
    assert len(found) == len(expected)
    assert [t for u in found for t in (u.start, u.end)] == pytest.approx(
        [t for r in expected for t in (r.start, r.end)], abs=1e-6
    )
    for u in found:
        first = round(u.start * SR)
        np.testing.assert_array_equal(u.signal, signal[first : first + u.signal.size])
        assert abs(u.signal.size - round((u.end - u.start) * SR)) <= 1


def test_long_speech_is_cut_into_pieces_of_max_duration():
    signal = np.concatenate([quiet(0.5), buzz(7.0), quiet(1.0)])
    found = segment(signal, [1600], max_duration=2.0)
    assert len(found) >= 3
    frame, pad = shared_vad().frame_duration, VadParams().pad
    assert all(u.duration <= 2.0 + frame + pad + 1e-6 for u in found)
    for a, b in itertools.pairwise(found):
        assert b.start == pytest.approx(a.end), "pieces of one stretch meet, unpadded"


def test_memory_stays_bounded_on_a_long_stream():
    segmenter = UtteranceSegmenter(max_duration=5.0)
    one_minute = np.concatenate([buzz(3.0), quiet(2.0)] * 12)
    largest, count = 0, 0
    for _ in range(3):  # three minutes
        for start in range(0, one_minute.size, 4000):
            count += len(segmenter.push(one_minute[start : start + 4000]))
            largest = max(largest, segmenter._audio.size)
    count += len(segmenter.flush())
    assert count >= 30
    assert largest < 8 * SR, "kept audio is bounded by the longest utterance, not the stream"


def test_silence_and_noise_give_no_utterances_and_flush_resets():
    segmenter = UtteranceSegmenter()
    assert segmenter.push(quiet(3.0)) == [] and segmenter.flush() == []
    assert segmenter.position == 0.0
    noise = (0.2 * np.random.default_rng(3).standard_normal(SR * 3)).astype(np.float32)
    assert segment(noise, [2048]) == []


def test_bad_max_duration_is_refused():
    for bad in (0.0, -1.0, float("nan"), 0.3):
        with pytest.raises(ParameterError, match="max_duration"):
            UtteranceSegmenter(max_duration=bad)
