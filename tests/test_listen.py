"""Live mode: injected streams (arrays played through the callback), the CLI on a fake
sounddevice, and ``emovox listen`` end to end through a virtual microphone."""

from __future__ import annotations

import json
import re
import signal as signals
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from emovox.audio import load_audio
from emovox.errors import AudioError, DeviceError, ModelError, ParameterError
from emovox.live import (
    DEFAULT_MAX_UTTERANCE,
    DEFAULT_VAD_PAUSE,
    BlockRing,
    DropOldestQueue,
    Listener,
    ListenSummary,
    QueueClosed,
    UtteranceEvent,
    listen,
)
from emovox.live import listener as listener_mod
from emovox.recognizer import Recognizer
from emovox.results import Prediction
from emovox.segmentation import UtteranceSegmenter, VadParams
from helpers import VIRTUAL_SINK, VirtualMicUnavailable, buzz, quiet, run_cli, virtual_microphone

SR = 16_000


# --- an injected stream: an array played through a sounddevice-style callback ------------


class ArrayStream:
    """Plays ``audio`` (at ``samplerate``) into ``callback`` block by block, on its own thread,
    as sounddevice.InputStream(callback=...) does with a microphone.

    ``speed``: times real time (None: as fast as possible); ``loop``: start again at the
    end (an endless microphone); ``burst``: seconds delivered at once inside ``start()``,
    before the listener's threads run, then ``pause`` seconds of nothing; ``deliver=False``:
    a device that sends nothing; ``stall_after``: seconds after which it sends nothing more
    but stays open (an unplugged microphone); ``clock``: an :class:`AudioClock` that reads
    the time of the last sample delivered; ``adc_delay``: report (as PortAudio's ``time``
    argument) that each block's first sample was captured this long before the callback.
    """

    def __init__(
        self,
        *,
        samplerate: int,
        channels: int,
        dtype: str,
        device: object,
        blocksize: int,
        callback,
        audio: np.ndarray,
        speed: float | None = None,
        loop: bool = False,
        burst: float = 0.0,
        deliver: bool = True,
        pause: float = 0.0,
        stall_after: float | None = None,
        clock: AudioClock | None = None,
        adc_delay: float | None = None,
        latency: str | None = None,
    ) -> None:
        assert dtype == "float32"
        self.samplerate, self.channels, self.device, self.blocksize = (
            samplerate,
            channels,
            device,
            blocksize,
        )
        self.callback, self.speed, self.loop, self.deliver = callback, speed, loop, deliver
        self.pause, self.clock, self.adc_delay = pause, clock, adc_delay
        self.stall_at = None if stall_after is None else round(stall_after * samplerate)
        audio = np.asarray(audio, dtype=np.float32)
        self.audio = audio[:, None] if audio.ndim == 1 else audio
        assert self.audio.shape[1] == channels
        self.burst = round(burst * samplerate)
        self.position = 0
        self.started = self.stopped = self.closed = False
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended = False

    @property
    def active(self) -> bool:
        return self.started and not self.stopped and not self._ended

    def _next(self) -> np.ndarray | None:
        if self.position >= self.audio.shape[0]:
            if not self.loop:
                return None
            self.position = 0
        block = self.audio[self.position : self.position + self.blocksize]
        self.position += block.shape[0]
        return block

    def _play(self, until: int | None = None) -> bool:
        while not self._halt.is_set():
            if until is not None and self.position >= until:
                return True
            block = self._next()
            if block is None:
                return False
            time_info = None
            if self.clock is not None:  # this block's last sample is captured "now"
                self.clock.now = self.clock.start + self.position / self.samplerate
            if self.adc_delay is not None:  # PortAudio's times: the first sample is older
                time_info = types.SimpleNamespace(
                    currentTime=100.0 + self.adc_delay, inputBufferAdcTime=100.0
                )
            self.callback(block.copy(), block.shape[0], time_info, None)
            if self.speed is not None and until is None:
                time.sleep(block.shape[0] / self.samplerate / self.speed)
        return False

    def _run(self) -> None:
        self._halt.wait(self.pause)
        if self.stall_at is not None:  # then nothing, though the stream stays open
            self._play(until=self.stall_at)
            self._halt.wait()
        self._play()
        self._ended = True

    def start(self) -> None:
        self.started = True
        if not self.deliver:
            return
        if self.burst:
            self._play(until=self.burst)
        self._thread = threading.Thread(target=self._run, name="array-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.stopped = True

    def close(self) -> None:
        self.closed = True


class AudioClock:
    """A clock for the listener that the stream moves: the time of the newest sample."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.now = start

    def __call__(self) -> float:
        return self.now


def stream_of(audio: np.ndarray, **options):
    """A stream factory playing ``audio``; ``factory.streams`` lists what it opened."""
    streams: list[ArrayStream] = []

    def make(**kwargs) -> ArrayStream:
        stream = ArrayStream(**kwargs, audio=audio, **options)
        streams.append(stream)
        return stream

    make.streams = streams  # type: ignore[attr-defined]
    return make


class StubRecognizer:
    """Stands in for Recognizer: 'anger' for utterances over 2.3 s, else 'sad'; ``delay``
    seconds per prediction; an AudioError for utterances shorter than ``fail_below``."""

    LABELS = ("anger", "sad", "neutral")

    def __init__(self, *, delay: float = 0.0, fail_below: float | None = None) -> None:
        self.labels = list(self.LABELS)
        self.delay, self.fail_below = delay, fail_below
        self.check_speech = True
        self.calls: list[tuple[int, bool]] = []  # (samples, check_speech) of each prediction

    def check_classes(self, classes):
        return Recognizer.check_classes(self, classes)  # type: ignore[arg-type]

    def predict_signal(self, signal, *, sample_rate, classes=None) -> Prediction:
        assert sample_rate == SR and signal.dtype == np.float32
        self.calls.append((signal.size, self.check_speech))
        time.sleep(self.delay)
        seconds = signal.size / sample_rate
        if self.fail_below is not None and seconds < self.fail_below:
            raise AudioError(f"too short: {seconds:.2f} s")
        label = "anger" if seconds > 2.3 else "sad"
        probabilities = {name: 0.1 for name in self.labels}
        probabilities[label] = 0.8
        return Prediction(label, 0.8, probabilities, duration=round(seconds, 3))


def run(listener: Listener, timeout: float = 30.0) -> tuple[list[UtteranceEvent], ListenSummary]:
    """Start, read every event, close; check that it ended by itself within ``timeout``
    seconds and that nothing is left running."""
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        listener.stop(drain=False)

    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    try:
        with listener:
            events = list(listener.events())
    finally:
        watchdog.cancel()
    assert not expired, f"listening did not end within {timeout} s"
    summary = listener.summary()
    assert not listener.running
    assert not [t for t in threading.enumerate() if t.name.startswith("emovox-listen")]
    return events, summary


def offline(signal: np.ndarray) -> list:
    """The utterances the segmenter finds in a whole 16 kHz signal (pushed in 512s), with
    the live mode's parameters."""
    segmenter = UtteranceSegmenter(
        params=VadParams(min_duration_off=DEFAULT_VAD_PAUSE), max_duration=DEFAULT_MAX_UTTERANCE
    )
    found = []
    for i in range(0, signal.size, 512):
        found += segmenter.push(signal[i : i + 512])
    return found + segmenter.flush()


def times(items) -> list[float]:
    """start, end, start, end, ... of events or utterances (for pytest.approx)."""
    return [t for item in items for t in (item.start, item.end)]


def three_buzzes() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Buzzes of 2.5, 1.5 and 1.8 s between pauses, and where each is."""
    parts = [quiet(0.6), buzz(2.5), quiet(1.2, seed=2), buzz(1.5, f0=110, seed=3)]
    parts += [quiet(1.0, seed=4), buzz(1.8, seed=5), quiet(0.8, seed=6)]
    placed = [(0.6, 3.1), (4.3, 5.8), (6.8, 8.6)]
    return np.concatenate(parts), placed


def at_rate(signal: np.ndarray, rate: int) -> np.ndarray:
    return signal if rate == SR else soxr.resample(signal, SR, rate, quality="HQ")


# --- the bounded hand-overs ---------------------------------------------------------------


def test_ring_refuses_blocks_past_its_capacity_and_keeps_the_frame_clock() -> None:
    ring = BlockRing(1000)
    block = np.ones((400, 1), dtype=np.float32)
    assert ring.put(block, 1.0) and ring.put(block * 2, 2.0)
    assert not ring.put(block * 3, 3.0)  # 1200 > 1000: refused, never waited for
    assert (ring.overflows, ring.lost_frames, ring.frames) == (1, 400, 1200)
    first = ring.get()
    assert first is not None and first.first_frame == 0 and first.captured_at == 1.0
    block[:] = 9  # the ring holds copies
    assert np.all(first.data == 1)
    assert ring.put(block, 4.0)  # room again after a get
    assert [b.first_frame for b in iter(ring.get, None)] == [400, 1200]  # the gap shows
    assert ring.get() is None and ring.waiting == 0


def test_drop_oldest_queue_evicts_the_oldest_and_leaves_its_tombstone() -> None:
    q: DropOldestQueue[str] = DropOldestQueue(2, tombstone=lambda item: f"dropped {item}")
    assert q.put("a") is None and q.put("b") is None
    assert q.put("c") == "a" and q.put("d") == "b"
    assert len(q) == 2 and q.high_water == 2 and q.evicted == 2
    q.close()
    with pytest.raises(QueueClosed):
        q.put("e")
    assert [q.get(), q.get(), q.get(), q.get()] == ["dropped a", "dropped b", "c", "d"]
    with pytest.raises(QueueClosed):
        q.get()
    plain: DropOldestQueue[int] = DropOldestQueue(1)
    plain.put(1)
    assert plain.put(2) == 1 and plain.get(timeout=0) == 2 and plain.get(timeout=0.01) is None


# --- utterances from an injected stream ---------------------------------------------------


def test_each_buzz_gives_one_event_in_order_at_the_segmenters_times() -> None:
    signal, placed = three_buzzes()
    stub = StubRecognizer()
    events, summary = run(Listener(stub, stream_factory=stream_of(signal), buffer_seconds=60))
    expected = offline(signal)
    assert len(expected) == 3
    assert [e.index for e in events] == [1, 2, 3]
    assert [e.status for e in events] == ["ok"] * 3
    assert times(events) == pytest.approx(times(expected), abs=1e-9)
    for event, (start, end) in zip(events, placed, strict=True):
        assert start - 0.1 <= event.start <= start + 0.2
        assert end - 0.2 <= event.end <= end + 0.35
    assert [e.label for e in events] == ["anger", "sad", "sad"]
    assert [n for n, _ in stub.calls] == [u.signal.size for u in expected]
    assert [check for _, check in stub.calls] == [False] * 3  # the segmenter found speech
    assert stub.check_speech is True  # the caller's recognizer is left as it was
    assert all(e.latency is not None and 0 <= e.latency < 2 and not e.late for e in events)
    assert summary.utterances == summary.predicted == 3
    assert summary.heard == pytest.approx(signal.size / SR)
    assert (summary.dropped, summary.failed, summary.overflows) == (0, 0, 0)
    assert summary.ended == "stream ended"


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


def test_live_answers_equal_predict_signal_on_the_same_audio(recognizer: Recognizer) -> None:
    """A 48 kHz device: the stream is resampled block by block, and every answer is the one
    predict_signal gives on the utterance cut from the whole signal resampled at once."""
    signal, _ = three_buzzes()
    at_48k = at_rate(signal, 48_000)
    factory = stream_of(at_48k)
    events, _ = run(
        Listener(recognizer, sample_rate=48_000, stream_factory=factory, buffer_seconds=60)
    )
    assert factory.streams[0].samplerate == 48_000
    whole = soxr.resample(at_48k, 48_000, SR, quality="HQ")
    expected = offline(whole)
    assert len(events) == len(expected) == 3
    for event, utterance in zip(events, expected, strict=True):
        assert (event.start, event.end) == pytest.approx((utterance.start, utterance.end))
        reference = recognizer.predict_signal(utterance.signal, sample_rate=SR)
        assert event.prediction is not None
        assert event.label == reference.label
        assert event.prediction.probabilities == pytest.approx(reference.probabilities, abs=1e-6)
        assert event.compute is not None and event.compute > 0


@pytest.mark.parametrize("rate", [44_100, 48_000, 8_000])
def test_other_device_rates_give_the_same_times(rate: int) -> None:
    signal, _ = three_buzzes()
    reference = times(offline(signal))
    events, summary = run(
        Listener(
            StubRecognizer(),
            sample_rate=rate,
            stream_factory=stream_of(at_rate(signal, rate)),
            buffer_seconds=60,
        )
    )
    assert times(events) == pytest.approx(reference, abs=0.07)
    assert summary.heard == pytest.approx(signal.size / SR, abs=1e-3)


def test_stereo_input_is_downmixed() -> None:
    signal, _ = three_buzzes()
    stereo = np.stack([signal, np.zeros_like(signal)], axis=1)
    factory = stream_of(stereo)
    events, _ = run(
        Listener(StubRecognizer(), channels=2, stream_factory=factory, buffer_seconds=60)
    )
    assert factory.streams[0].channels == 2
    assert len(events) == 3


def test_real_clips_between_silences_come_out_in_order(corpus_root, recognizer) -> None:
    root = corpus_root("ravdess")
    names = [  # angry, sad, happy: three actors, both statements
        "Actor_01/03-01-05-02-01-01-01.flac",
        "Actor_02/03-01-04-02-02-01-02.flac",
        "Actor_03/03-01-03-02-01-02-03.flac",
    ]
    clips = [load_audio(root / name) for name in names]
    parts, spans, t = [quiet(1.0)], [], 1.0
    for i, clip in enumerate(clips):
        parts += [clip, quiet(1.5, seed=i + 2)]
        spans.append((t, t + clip.size / SR))
        t += clip.size / SR + 1.5
    signal = np.concatenate(parts)
    events, summary = run(
        Listener(
            recognizer,
            sample_rate=48_000,
            stream_factory=stream_of(at_rate(signal, 48_000)),
            buffer_seconds=60,
        )
    )
    assert [e.status for e in events] == ["ok"] * 3, events
    for event, (start, end) in zip(events, spans, strict=True):
        assert start - 0.05 <= event.start < event.end <= end + 0.05
        assert event.end - event.start > 1.0  # the sentence, not a word of it
        assert event.label in recognizer.labels
        assert sum(event.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert summary.overflows == 0


# --- a slow machine, lost audio, errors -----------------------------------------------------


def test_ring_overflow_is_counted_and_times_stay_true() -> None:
    """4 s arrive at once into a 1 s buffer (the consumer not yet running): what did not fit
    is lost and counted; the speech after it is found at its true time."""
    parts = [quiet(1.0), buzz(2.0), quiet(1.0, seed=2)]  # 0-4 s: burst, mostly lost
    parts += [quiet(0.5, seed=3), buzz(1.5, seed=4), quiet(1.0, seed=5), buzz(1.5, seed=6)]
    signal = np.concatenate([*parts, quiet(1.0, seed=7)])
    factory = stream_of(signal, burst=4.0, pause=0.3, speed=20.0)
    events, summary = run(Listener(StubRecognizer(), stream_factory=factory, buffer_seconds=1.0))
    blocks_kept = SR // 512  # 31 blocks of 512 fit in 16000 frames
    assert summary.overflows == 4 * SR // 512 - blocks_kept
    assert summary.lost == pytest.approx((4 * SR - blocks_kept * 512) / SR)
    assert summary.heard == pytest.approx(signal.size / SR)
    assert [e.status for e in events] == ["ok", "ok"]
    assert events[0].start == pytest.approx(4.5, abs=0.1)
    assert events[1].start == pytest.approx(7.0, abs=0.1)


def test_a_slow_model_drops_the_oldest_reports_late_and_never_queues_more() -> None:
    pieces = [quiet(0.3)]
    for i in range(8):
        pieces += [buzz(0.6, seed=i), quiet(0.7, seed=10 + i)]
    signal = np.concatenate(pieces)
    expected = len(offline(signal))
    assert expected >= 6
    listener = Listener(
        StubRecognizer(delay=0.5),
        stream_factory=stream_of(signal, speed=4.0),
        queue_size=1,
        late_after=0.3,
    )
    events, summary = run(listener)
    assert [e.index for e in events] == list(range(1, expected + 1))  # each once, in order
    dropped = [e for e in events if e.status == "dropped"]
    assert dropped and all("model was busy" in (e.error or "") for e in dropped)
    assert summary.dropped == len(dropped)
    assert summary.predicted + summary.dropped == summary.utterances == expected
    late = [e for e in events if e.late]
    assert late and summary.late == len(late)
    assert all(e.status == "ok" and e.latency > 0.3 for e in late)
    assert listener.work_high_water == 1


@pytest.mark.parametrize("adc_delay", [None, 0.1])
def test_latency_runs_from_the_capture_of_the_utterances_last_sample(adc_delay) -> None:
    """On a clock that the audio moves, an utterance's last sample was captured at its end
    (earlier by what PortAudio says the block waited), and no answer can come before the
    pause that ends an utterance has been heard."""
    signal, _ = three_buzzes()
    clock = AudioClock()
    factory = stream_of(signal, speed=20.0, clock=clock, adc_delay=adc_delay)
    listener = Listener(StubRecognizer(), stream_factory=factory, clock=clock)
    events, summary = run(listener)
    waited = 0.0 if adc_delay is None else adc_delay - 512 / SR  # before the callback
    assert len(events) == 3
    for event in events:
        assert event.ended_at == pytest.approx(clock.start + event.end - waited, abs=1e-6)
        # The pause after the speech (end includes 30 ms of padding) must be heard first.
        assert event.latency >= DEFAULT_VAD_PAUSE - 0.03 + waited - 1e-6
    assert summary.latency_median == pytest.approx(np.median([e.latency for e in events]))


def test_speech_still_going_when_the_stream_ends_is_reported() -> None:
    signal = np.concatenate([quiet(0.5), buzz(2.0)])
    events, summary = run(Listener(StubRecognizer(), stream_factory=stream_of(signal)))
    assert [e.status for e in events] == ["ok"]
    assert events[0].start == pytest.approx(0.5, abs=0.1)
    assert events[0].end == pytest.approx(2.5, abs=0.05)
    assert summary.ended == "stream ended"


def test_a_refused_utterance_is_an_error_event_and_listening_goes_on() -> None:
    signal, _ = three_buzzes()
    events, summary = run(
        Listener(
            StubRecognizer(fail_below=2.3), stream_factory=stream_of(signal), buffer_seconds=60
        )
    )
    assert [e.status for e in events] == ["ok", "error", "error"]
    assert "too short" in (events[1].error or "") and events[1].to_dict()["status"] == "error"
    assert (summary.predicted, summary.failed) == (1, 2)


def test_a_failure_in_the_analysis_reaches_the_caller(monkeypatch) -> None:
    def broken(self, block):
        raise ModelError("the voice activity model is missing")

    monkeypatch.setattr(UtteranceSegmenter, "push", broken)
    factory = stream_of(three_buzzes()[0], loop=True, speed=10.0)
    listener = Listener(StubRecognizer(), stream_factory=factory)
    with pytest.raises(ModelError, match="voice activity"):
        run(listener)
    assert not listener.running and factory.streams[0].closed
    assert listener.summary().ended == "failed"


# --- stopping ------------------------------------------------------------------------------


def test_seconds_stops_after_that_much_audio() -> None:
    factory = stream_of(three_buzzes()[0], loop=True, speed=20.0)
    events, summary = run(Listener(StubRecognizer(), stream_factory=factory, seconds=6.3))
    assert summary.heard == pytest.approx(6.3)
    assert summary.ended == "seconds"
    stream = factory.streams[0]
    assert stream.stopped and stream.closed
    assert 1 <= len(events) <= 2 and all(e.end <= 6.3 for e in events)


def test_close_without_draining_drops_pending_work_and_leaves_no_thread() -> None:
    factory = stream_of(three_buzzes()[0], loop=True, speed=10.0)
    listener = Listener(StubRecognizer(delay=0.3), stream_factory=factory).start()
    events = listener.events()
    first = next(events)
    summary = listener.close(drain=False, timeout=5)
    rest = list(events)
    assert not listener.running
    assert not [t for t in threading.enumerate() if t.name.startswith("emovox-listen")]
    assert factory.streams[0].stopped and factory.streams[0].closed
    assert first.status == "ok"
    assert all(e.status in ("ok", "dropped") for e in rest)
    assert summary.predicted + summary.dropped == summary.utterances
    assert summary.ended == "stopped"


def test_ctrl_c_finishes_what_was_heard_then_a_second_drops_the_rest() -> None:
    """Ctrl-C arrives while the first answer is delivered, with utterances waiting for a
    slow model: the microphone closes and what was heard is still answered, none dropped;
    a second Ctrl-C drops what is left."""
    factory = stream_of(three_buzzes()[0], loop=True, speed=20.0)
    seen: list[UtteranceEvent] = []

    def interrupt_first(event: UtteranceEvent) -> None:
        seen.append(event)
        if len(seen) == 1:
            time.sleep(0.5)  # meanwhile more utterances are heard and wait for the model
            raise KeyboardInterrupt

    listeners: list[Listener] = []
    summary = listen(
        StubRecognizer(delay=0.3),
        stream_factory=factory,
        on_event=interrupt_first,
        on_start=listeners.append,
        queue_size=20,
    )
    assert summary.ended == "interrupted"
    stream = factory.streams[0]
    assert stream.stopped and stream.closed
    assert listeners[0].work_high_water >= 2  # some were waiting when Ctrl-C came
    assert len(seen) >= 3 and all(e.status == "ok" for e in seen)  # finished, not dropped
    assert [e.index for e in seen] == list(range(1, len(seen) + 1))
    assert summary.predicted == len(seen) == summary.utterances and summary.dropped == 0

    # Twelve utterances heard at once, a slow model: the second Ctrl-C drops what waits.
    factory = stream_of(np.tile(three_buzzes()[0], 4))
    seen = []

    def interrupt_twice(event: UtteranceEvent) -> None:
        seen.append(event)
        if len(seen) <= 2:
            time.sleep(0.2)
            raise KeyboardInterrupt

    summary = listen(
        StubRecognizer(delay=0.3),
        stream_factory=factory,
        on_event=interrupt_twice,
        queue_size=20,
        buffer_seconds=60,
    )
    statuses = [e.status for e in seen]
    assert [e.index for e in seen] == list(range(1, len(seen) + 1)) and len(seen) >= 10
    assert statuses[:2] == ["ok", "ok"]
    first_dropped = statuses.index("dropped")
    assert statuses[first_dropped:] == ["dropped"] * (len(seen) - first_dropped)
    assert len(seen) - first_dropped >= 3
    assert all("listening stopped" in (e.error or "") for e in seen[first_dropped:])
    assert summary.predicted + summary.dropped == summary.utterances == len(seen)
    assert not [t for t in threading.enumerate() if t.name.startswith("emovox-listen")]


def test_a_device_that_goes_quiet_while_open_is_a_device_error(monkeypatch) -> None:
    monkeypatch.setattr(listener_mod, "STALL_TIMEOUT", 0.3)
    factory = stream_of(three_buzzes()[0], stall_after=4.0)
    seen: list[UtteranceEvent] = []
    with pytest.raises(DeviceError, match="stopped delivering audio"):
        listen(StubRecognizer(), stream_factory=factory, on_event=seen.append)
    assert [e.status for e in seen] == ["ok"]  # what came before is still answered
    assert factory.streams[0].closed
    assert not [t for t in threading.enumerate() if t.name.startswith("emovox-listen")]


def test_a_device_that_sends_nothing_is_a_device_error(monkeypatch) -> None:
    monkeypatch.setattr(listener_mod, "READY_TIMEOUT", 0.2)
    factory, started = stream_of(quiet(1.0), deliver=False), []
    with pytest.raises(DeviceError, match="delivered no audio"):
        listen(StubRecognizer(), stream_factory=factory, on_start=started.append)
    assert started == [] and factory.streams[0].closed
    assert not [t for t in threading.enumerate() if t.name.startswith("emovox-listen")]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"seconds": 0}, ParameterError, "seconds"),
        ({"seconds": float("nan")}, ParameterError, "seconds"),
        ({"queue_size": 0}, ParameterError, "queue_size"),
        ({"buffer_seconds": -1.0}, ParameterError, "buffer_seconds"),
        ({"late_after": "2"}, ParameterError, "late_after"),
        ({"sample_rate": 100}, ParameterError, "sample_rate"),
        ({"channels": 0}, ParameterError, "channels"),
        ({"classes": "anger,calm"}, ModelError, "no class 'calm'"),
    ],
)
def test_bad_options_are_refused_before_a_stream_opens(options, error, message) -> None:
    factory = stream_of(quiet(1.0))
    with pytest.raises(error, match=message):
        Listener(StubRecognizer(), stream_factory=factory, **options).start()
    assert factory.streams == []


def test_classes_restrict_the_answer() -> None:
    listener = Listener(StubRecognizer(), classes="SAD,anger", stream_factory=stream_of(quiet(1)))
    assert listener.classes == ["anger", "sad"]


# --- the CLI on a fake sounddevice ----------------------------------------------------------


class FakePortAudioError(Exception):
    pass


def fake_sounddevice(audio16k: np.ndarray | None, *, rates=None, speed=None) -> types.ModuleType:
    """A sounddevice module with one microphone (48 kHz by default) playing ``audio16k``;
    None: a machine without input devices."""
    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = FakePortAudioError
    sd.opened = []
    devices = [{"name": "HDMI", "max_input_channels": 0, "default_samplerate": 48000.0}]
    if audio16k is not None:
        devices.append({"name": "USB mic", "max_input_channels": 1, "default_samplerate": 48000.0})

    def query_devices(device=None, kind=None):
        if kind == "input":
            if audio16k is None:
                raise FakePortAudioError("no default input")
            return {**devices[1], "index": 1}
        return devices

    def check_input_settings(*, device, channels, dtype, samplerate):
        if rates is not None and samplerate not in rates:
            raise FakePortAudioError("Invalid sample rate")

    def input_stream(**kwargs):
        sd.opened.append(kwargs)
        assert audio16k is not None
        return ArrayStream(**kwargs, audio=at_rate(audio16k, kwargs["samplerate"]), speed=speed)

    sd.query_devices = query_devices
    sd.check_input_settings = check_input_settings
    sd.InputStream = input_stream
    return sd


@pytest.fixture
def stub_model(monkeypatch):
    stub = StubRecognizer()
    monkeypatch.setattr(Recognizer, "load", classmethod(lambda cls, path=None, **kw: stub))
    return stub


def test_cli_json_prints_one_flushed_line_per_utterance(monkeypatch, capsys, stub_model) -> None:
    signal, _ = three_buzzes()
    sd = fake_sounddevice(signal, rates={48_000})
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    code, stdout, stderr = run_cli(monkeypatch, capsys, "listen", "--json", "--seconds", "60")
    assert code == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["index"] for line in lines] == [1, 2, 3]
    reference = offline(signal)
    for line, utterance in zip(lines, reference, strict=True):
        assert line["status"] == "ok"
        assert set(line) >= {"start", "end", "label", "confidence", "probabilities", "latency"}
        assert line["start"] == pytest.approx(utterance.start, abs=0.07)
        assert line["end"] == pytest.approx(utterance.end, abs=0.07)
        assert line["probabilities"][line["label"]] == line["confidence"]
    (opened,) = sd.opened
    assert (opened["device"], opened["samplerate"], opened["latency"]) == (1, 48_000, "low")
    assert stderr.index("Listening on 'USB mic' at 48000 Hz") < stderr.index("3 predicted")
    assert "the input stream ended" in stderr


def test_cli_prints_readable_lines_into_a_pipe(monkeypatch, capsys, stub_model) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(three_buzzes()[0]))
    code, stdout, stderr = run_cli(monkeypatch, capsys, "listen", "--seconds", "5")
    assert code == 0, stderr
    assert re.search(r"^ +1 +0\.\d\d- +3\.\d\d s +anger +0\.80 +latency", stdout, re.M), stdout
    assert "5.0 s heard" in stderr and "seconds:" in stderr


def test_cli_checks_the_microphone_before_loading_the_model(monkeypatch, capsys) -> None:
    def no(*args, **kwargs):
        raise AssertionError("the model was loaded before the microphone was checked")

    monkeypatch.setattr(Recognizer, "load", classmethod(no))
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(None))
    code, stdout, stderr = run_cli(monkeypatch, capsys, "listen", "--json")
    assert code == 2 and stdout == ""
    assert "No microphone" in stderr and "Listening" not in stderr
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    code, _, stderr = run_cli(monkeypatch, capsys, "listen")
    assert code == 2 and "pip install 'emovox[record]'" in stderr


def test_cli_refuses_bad_seconds_and_classes(monkeypatch, capsys, stub_model) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # options come before the device
    code, _, stderr = run_cli(monkeypatch, capsys, "listen", "--seconds", "0")
    assert code == 2 and "--seconds must be a positive number" in stderr
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(quiet(1.0)))
    code, _, stderr = run_cli(monkeypatch, capsys, "listen", "--classes", "anger,calm")
    assert code == 2 and "no class 'calm'" in stderr and "Listening" not in stderr


def test_live_view_shows_the_current_emotion_recent_utterances_and_counts() -> None:
    from rich.console import Console

    from emovox.interfaces.listen_command import LiveView

    view = LiveView(list(StubRecognizer.LABELS))
    probabilities = {"anger": 0.1, "sad": 0.75, "neutral": 0.15}
    view.add(
        UtteranceEvent(1, 0.5, 2.0, "ok", Prediction("sad", 0.75, probabilities, 1.5), latency=0.21)
    )
    view.add(UtteranceEvent(2, 3.0, 4.0, "dropped", error="the model was busy", latency=0.4))
    view.listener = types.SimpleNamespace(  # type: ignore[assignment]
        summary=lambda: ListenSummary(12.0, 2, 1, 1, 0, 1, 0, 0.0, 0)
    )
    console = Console(record=True, width=110)
    console.print(view)
    text = console.export_text()
    assert "sad" in text and "75%" in text and "0.5-2.0" in text and "0.21" in text
    assert "dropped" in text and "the model was busy" in text
    assert "1 dropped" in text and "1 late" in text


# --- end to end through a virtual microphone -----------------------------------------------


@pytest.fixture
def virtual_mic():
    try:
        with virtual_microphone() as (env, runtime):
            from emovox.cache_root import cache_root

            # The daemon's HOME is a fresh folder: keep the ONNX encoder cache of this user.
            yield {**env, "EMOVOX_CACHE": str(cache_root())}, runtime
    except VirtualMicUnavailable as exc:
        pytest.skip(f"no virtual microphone: {exc}")


SETTLE = 1.0
"""Seconds between "Listening" and the start of playback in the virtual-microphone tests."""


def start_listening(env: dict, *args: str) -> subprocess.Popen:
    """``emovox listen --json ARGS`` on the virtual microphone, once it says "Listening"."""
    command = [sys.executable, "-m", "emovox", "listen", "--json", "--device", "pulse", *args]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    said: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()  # type: ignore[union-attr]
        said.append(line)
        if line.startswith("Listening on") or not line:
            break
    assert said and said[-1].startswith("Listening on"), "".join(said)
    return process


def play(env: dict, path: Path) -> None:
    subprocess.run(["paplay", f"--device={VIRTUAL_SINK}", str(path)], env=env, check=True)


def recording_of(clips: list[np.ndarray], gap: float = 1.5) -> np.ndarray:
    parts = [quiet(0.5)]
    for i, clip in enumerate(clips):
        parts += [clip, quiet(gap, seed=i + 2)]
    return np.concatenate(parts)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["buzz", "ravdess"])
def test_listen_through_a_virtual_microphone(
    virtual_mic, source: str, request, recognizer: Recognizer, tmp_path: Path
) -> None:
    env, _ = virtual_mic
    if source == "buzz":
        clips = [buzz(2.0), buzz(1.5, f0=110, seed=3), buzz(2.5, seed=7)]
    else:
        root = request.getfixturevalue("corpus_root")("ravdess")
        clips = [
            load_audio(root / name)
            for name in (
                # Angry, sad, happy. Clips that the voice activity detector finds whole at
                # every alignment of its frames, also after 16 -> 48 -> 16 kHz (PulseAudio
                # resamples): Actor_06's, say, it may miss altogether.
                "Actor_04/03-01-05-02-01-01-04.flac",
                "Actor_05/03-01-04-02-01-01-05.flac",
                "Actor_07/03-01-03-02-01-01-07.flac",
            )
        ]
    signal = recording_of(clips)
    path = tmp_path / "played.wav"
    sf.write(path, signal, SR, subtype="PCM_16")
    seconds = signal.size / SR + 1.0
    process = start_listening(env, "--seconds", f"{seconds + SETTLE:.1f}")
    try:
        # Let whatever the virtual sink still holds from earlier tests pass first: a blip
        # at the stream's start within a pause of the first clip would join it.
        time.sleep(SETTLE)
        play(env, path)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    expected = offline(load_audio(path))
    assert len(lines) == len(expected) == 3, (lines, stderr)
    assert [line["index"] for line in lines] == [1, 2, 3]
    assert [line["status"] for line in lines] == ["ok"] * 3
    # Playback starts a little after "Listening" (and SETTLE): the same times, shifted once.
    shift = lines[0]["start"] - expected[0].start
    assert SETTLE - 0.1 < shift < SETTLE + 1.5, (lines, expected)
    for line, utterance in zip(lines, expected, strict=True):
        assert line["start"] - shift == pytest.approx(utterance.start, abs=0.1)
        assert line["end"] - shift == pytest.approx(utterance.end, abs=0.1)
        assert 0 < line["latency"] < 2.0 and not line["late"]
        assert line["label"] in recognizer.labels
    assert "3 predicted" in stderr and "seconds:" in stderr


@pytest.mark.slow
def test_ctrl_c_through_a_virtual_microphone_stops_cleanly(virtual_mic, tmp_path: Path) -> None:
    env, _ = virtual_mic
    path = tmp_path / "one.wav"
    sf.write(path, recording_of([buzz(1.5)], gap=1.0), SR, subtype="PCM_16")
    process = start_listening(env)
    try:
        play(env, path)
        first = process.stdout.readline()  # type: ignore[union-attr]
        process.send_signal(signals.SIGINT)
        rest, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert json.loads(first)["status"] == "ok"
    assert rest.strip() == ""  # nothing else was said
    assert "stopped (Ctrl-C): " in stderr and "1 predicted" in stderr
    assert "Traceback" not in stderr
