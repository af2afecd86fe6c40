"""Listen to a microphone; report the emotion of each utterance as soon as it is over.

Four threads, each handing over through a bounded buffer, so that nothing waits on the
audio thread and nothing grows with a slow machine:

    PortAudio's callback thread   copies each block into a BlockRing (no lock, never waits;
                                  a block that would pass ``buffer_seconds`` is refused and
                                  counted: ``overflows``, ``lost``)
      -> consumer thread          downmix, resample to 16 kHz (soxr.ResampleStream, the same
                                  numbers as soxr.resample on the whole signal), voice
                                  activity and utterances (UtteranceSegmenter: the segmenter
                                  of the timeline); where the ring refused audio, the open
                                  utterance is closed and times go on after the gap
      -> predictor thread         Recognizer.predict_signal on each utterance; at most
                                  ``queue_size`` utterances wait: a newer one pushes the
                                  oldest out (reported ``dropped``, in its place)
      -> the caller               Listener.events() or listen(on_event=): one UtteranceEvent
                                  per utterance, in order; ``late`` when it came more than
                                  ``late_after`` seconds after the utterance ended

The stream is injectable (``stream_factory``, called as sounddevice.InputStream is), so the
same code runs on a real microphone, on a virtual one (tests/test_listen.py plays clips into
a PulseAudio null sink) and on arrays in unit tests. An utterance's audio is exactly what
the segmenter cut from the 16 kHz stream, and its prediction is that of
``Recognizer.predict_signal`` on it (a test checks that the two agree to 1e-6); voice
activity is not checked again per utterance (``check_speech`` is off in the listener's copy
of the recognizer: the segmenter already found speech).

Stopping: :meth:`Listener.stop` closes the stream; with ``drain`` what was heard is still
analysed and predicted, without it pending utterances are reported ``dropped``. ``seconds``
stops after that much audio. :func:`listen` runs a listener until then, or until Ctrl-C
(first: finish what was heard; second: drop it), and returns a :class:`ListenSummary`.
Where an utterance ends: after :data:`DEFAULT_VAD_PAUSE` (0.5 s) of silence, not silero's
0.1 s. On 300 clips of single acted sentences (150 RAVDESS, 100 EmoDB, 50 TESS, each between
1 s of faint noise), the segmenter cut 33 into more than one utterance with a 0.1 s pause,
18 with 0.3 s, 11 with 0.5 s (all EmoDB, whose sentences hold long pauses) and 6 with 0.8 s
(``benchmarks/listen_latency.py``). The model was trained on whole sentences, so live mode
answers per sentence, and pays for it in latency.

Latency (``UtteranceEvent.latency``) runs from the capture of an utterance's last sample to
the event's delivery, so it includes that pause; the figures measured through a virtual
microphone are in docs/results.md (``benchmarks/listen_latency.py``).
"""

from __future__ import annotations

import collections
import copy
import functools
import math
import numbers
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from emovox.adaptation import Profile
from emovox.audio import SAMPLE_RATE
from emovox.errors import DeviceError, EmovoxError, ParameterError
from emovox.live.buffers import BlockRing, DropOldestQueue, QueueClosed
from emovox.live.events import ListenSummary, UtteranceEvent

if TYPE_CHECKING:
    from emovox.recognizer import Classes, Recognizer
    from emovox.results import Prediction
    from emovox.segmentation import Utterance, VadParams

DEFAULT_VAD_PAUSE = 0.5
"""Silence (seconds) that ends an utterance in live mode: ``VadParams.min_duration_off``."""
BLOCK_SECONDS = 0.032
"""Length of the blocks asked of the device (one voice activity frame at 16 kHz)."""
DEFAULT_MAX_UTTERANCE = 10.0
"""Longer speech is cut into pieces this long, so that a monologue is answered every 10 s."""
DEFAULT_BUFFER_SECONDS = 10.0
"""Audio the ring buffer holds before it refuses blocks (analysis this far behind)."""
DEFAULT_QUEUE_SIZE = 2
"""Utterances that may wait for the model; a newer one drops the oldest."""
DEFAULT_LATE_AFTER = 2.0
"""An answer delivered more than this many seconds after its utterance ended is late."""
READY_TIMEOUT = 5.0
"""Seconds :meth:`Listener.wait_ready` waits for the first audio from the device."""
STALL_TIMEOUT = 5.0
"""A stream that is still open but has sent nothing for this long is a DeviceError."""
EVENT_QUEUE_SIZE = 1000
"""Events waiting for a caller that does not read them; older ones are discarded."""
_POLL = 0.005  # seconds the consumer sleeps when the ring is empty
_MARK_SECONDS = 30.0  # how far back capture times are kept (utterance ends are recent)


class CallbackStreamLike(Protocol):
    """The small part of ``sounddevice.InputStream`` (callback mode) that the listener uses;
    ``active`` is read when present (False: the stream ended on its own)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


StreamFactory = Callable[..., CallbackStreamLike]
"""Called as ``factory(samplerate=, channels=, dtype="float32", device=, blocksize=,
callback=)``; the stream calls ``callback(indata, frames, time, status)`` with ``indata`` of
shape (frames, channels), as sounddevice does (``time`` and ``status`` may be None)."""


@dataclass(frozen=True)
class _Work:
    """An utterance on its way to the model; ``signal`` None: dropped (a tombstone)."""

    index: int
    start: float
    end: float
    ended_at: float
    signal: np.ndarray | None


def _tombstone(work: _Work) -> _Work:
    return replace(work, signal=None)


def _seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number of seconds, not {value!r}.")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be a positive number of seconds, got {value}.")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _adc_delay(time_info: Any) -> float:
    """How long before the callback the block's first sample was captured (0: unknown)."""
    try:
        delay = float(time_info.currentTime) - float(time_info.inputBufferAdcTime)
    except (AttributeError, TypeError, ValueError):
        return 0.0
    return delay if math.isfinite(delay) and 0.0 <= delay < 1.0 else 0.0


def _mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2 and data.shape[1] > 1:
        return data.mean(axis=1, dtype=np.float32)
    return data.reshape(-1)


class Listener:
    """A microphone, the utterance segmenter and a recognizer, on their own threads.

    Use :func:`listen` to run one until ``seconds`` or Ctrl-C, or drive it::

        with Listener(Recognizer.load(), seconds=30) as listener:
            for event in listener.events():
                print(event.start, event.end, event.label, event.latency)
        print(listener.summary().describe())

    Args:
        recognizer: predicts each utterance (a copy with ``check_speech`` off is used).
        device: input device number or name (a unique part of it); None: the default.
        sample_rate: rate to open the device at; None: 16 kHz where the device allows it,
            else its default rate (resampled to 16 kHz either way).
        channels: channels to capture (averaged into mono).
        classes: restrict the answer to these classes (see ``Recognizer.predict``).
        vad: voice activity parameters of the segmenter (default: silero's own, except
            that a pause of :data:`DEFAULT_VAD_PAUSE` seconds ends an utterance).
        max_utterance: longer speech is cut into pieces this long (seconds).
        seconds: stop after this much audio (None: until :meth:`stop`).
        buffer_seconds: how far analysis may fall behind the device before audio is lost.
        queue_size: utterances that may wait for the model before the oldest is dropped.
        late_after: an answer delivered later than this after its utterance ended is late.
        stream_factory: replaces ``sounddevice.InputStream`` (tests, other sources).
        clock: the time source for latencies (``time.monotonic``).
        adapt: adapt to the person speaking as they talk: a running profile of every
            utterance heard so far (this one included) feeds the adapted head, so answers
            improve over the first ten or so utterances (:mod:`emovox.adaptation`; each
            prediction's ``adapted`` gives the count). One speaker per session.

    Raises:
        ParameterError: for a bad option (before anything is opened);
        ModelError: for a class the model does not know.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        device: int | str | None = None,
        sample_rate: int | None = None,
        channels: int = 1,
        classes: Classes = None,
        vad: VadParams | None = None,
        max_utterance: float = DEFAULT_MAX_UTTERANCE,
        seconds: float | None = None,
        buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        late_after: float = DEFAULT_LATE_AFTER,
        stream_factory: StreamFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        adapt: bool = False,
    ) -> None:
        from emovox.audio.record import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
        from emovox.segmentation import VadParams

        if sample_rate is not None and (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, numbers.Integral)
            or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE
        ):
            raise ParameterError(
                f"sample_rate must be an integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} "
                f"Hz, got {sample_rate!r}."
            )
        self.device = device
        self.requested_rate = None if sample_rate is None else int(sample_rate)
        self.channels = _count("channels", channels)
        self.seconds = _seconds("seconds", seconds, optional=True)
        self.max_utterance = _seconds("max_utterance", max_utterance)
        self.buffer_seconds = _seconds("buffer_seconds", buffer_seconds)
        self.queue_size = _count("queue_size", queue_size)
        self.late_after = _seconds("late_after", late_after)
        self.vad = vad if vad is not None else VadParams(min_duration_off=DEFAULT_VAD_PAUSE)
        self.classes = recognizer.check_classes(classes)
        if not isinstance(adapt, bool):
            raise ParameterError(f"adapt must be True or False, got {adapt!r}.")
        if adapt:
            recognizer.require_adaptation()
        self.adapt = adapt
        self.profile: Profile | None = None
        """With ``adapt``: the running profile of the speaker heard so far."""
        self._predictor = copy.copy(recognizer)
        self._predictor.check_speech = False  # the segmenter found the speech
        self._factory = stream_factory
        self._clock = clock

        self.sample_rate: int | None = None
        """The rate the device was opened at (after :meth:`start`)."""
        self.device_name: str | None = None
        """The device's name (after :meth:`start`)."""
        self._stream: CallbackStreamLike | None = None
        self._stream_lock = threading.Lock()
        self._stream_closed = False
        self._ring: BlockRing | None = None
        self._segmenter: Any = None
        self._work: DropOldestQueue[_Work] = DropOldestQueue(self.queue_size, tombstone=_tombstone)
        self._events: DropOldestQueue[UtteranceEvent] = DropOldestQueue(EVENT_QUEUE_SIZE)
        self._threads: list[threading.Thread] = []
        self._stop_requested = threading.Event()
        self._abandon = threading.Event()
        self._failure: BaseException | None = None
        self._ended: str | None = None
        self._stop_reason = "stopped"
        self._marks: collections.deque[tuple[int, float]] = collections.deque()
        self._frames_done = 0
        self._found = self._predicted = self._dropped = self._failed = self._late = 0
        self._input_overflows = 0
        self._callback_errors = 0
        self._latencies: collections.deque[float] = collections.deque(maxlen=10_000)

    # -- starting ------------------------------------------------------------------------
    def start(self) -> Listener:
        """Find the device, open the stream and start the threads.

        Raises:
            DeviceError: no sounddevice/PortAudio, no microphone, an unknown device, or a
                stream that cannot be opened (see ``emovox.audio.record``).
        """
        from emovox.segmentation import UtteranceSegmenter

        if self._threads or self._stream is not None:
            raise EmovoxError("This listener was started already; make a new one.")
        factory, device, open_errors = self._plan()
        assert self.sample_rate is not None
        self._ring = BlockRing(max(1, round(self.buffer_seconds * self.sample_rate)))
        # Load the voice activity model before audio flows.
        self._segmenter = UtteranceSegmenter(params=self.vad, max_duration=self.max_utterance)
        try:
            stream = factory(
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="float32",
                device=device,
                blocksize=max(1, round(BLOCK_SECONDS * self.sample_rate)),
                callback=self._callback,
            )
        except open_errors as exc:
            raise DeviceError(self._cannot_open(exc)) from None
        self._stream = stream
        try:
            stream.start()
        except open_errors as exc:
            self._close_stream()
            raise DeviceError(self._cannot_open(exc)) from None
        except BaseException:
            self._close_stream()
            raise
        for name, target in (("consumer", self._consume), ("predictor", self._predict_loop)):
            thread = threading.Thread(target=target, name=f"emovox-listen-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def _plan(self) -> tuple[StreamFactory, Any, tuple[type[BaseException], ...]]:
        """The stream factory, the device argument and the errors that mean "cannot open"."""
        if self._factory is not None:
            self.sample_rate = self.requested_rate or SAMPLE_RATE
            self.device_name = "injected stream" if self.device is None else str(self.device)
            return self._factory, self.device, ()
        from emovox.audio.record import _sounddevice, ensure_input_device

        chosen = ensure_input_device(self.device, channels=self.channels)
        sd = _sounddevice()
        rate = self.requested_rate or SAMPLE_RATE
        try:
            sd.check_input_settings(
                device=chosen.index, channels=self.channels, dtype="float32", samplerate=rate
            )
        except sd.PortAudioError as exc:
            if self.requested_rate is not None:
                raise DeviceError(
                    f"'{chosen.name}' cannot record at {rate} Hz ({exc}); leave the rate out "
                    "to use the device's own."
                ) from None
            rate = round(chosen.default_samplerate)  # many devices run at their rate only
        self.sample_rate, self.device_name = rate, chosen.name
        factory = functools.partial(sd.InputStream, latency="low")
        return factory, chosen.index, (sd.PortAudioError,)

    def _cannot_open(self, exc: BaseException) -> str:
        return (
            f"Cannot listen to '{self.device_name}' ({exc}). Run `emovox record "
            "--list-devices` to see the input devices; choose another device or rate."
        )

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the device has delivered audio: the moment to say "listening".

        Raises:
            DeviceError: when no audio came within ``timeout`` seconds (default
                :data:`READY_TIMEOUT`).
        """
        timeout = READY_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while self._ring is not None and self._ring.frames == 0:
            if self._failure is not None or self._stop_requested.is_set():
                break
            if not self._stream_active():
                raise DeviceError(f"'{self.device_name}' stopped before delivering any audio.")
            if time.monotonic() > deadline:
                raise DeviceError(
                    f"'{self.device_name}' delivered no audio within {timeout:g} s; check "
                    "that it is not muted or used by another program, or choose another "
                    "device (`emovox record --list-devices`)."
                )
            time.sleep(0.01)
        self._raise_failure()

    # -- the audio thread ----------------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy the block into the ring; never wait, never raise."""
        try:
            now = self._clock()
            if status and getattr(status, "input_overflow", False):
                self._input_overflows += 1
            rate = self.sample_rate or SAMPLE_RATE
            block = frames / rate
            # The last sample was captured a block after the first, which was captured
            # `delay` before now; without a delay (unknown), the block just ended.
            ring: Any = self._ring
            ring.put(indata, now - max(0.0, _adc_delay(time_info) - block))
        except Exception:  # an exception here would abort the stream
            self._callback_errors += 1

    # -- the consumer thread -------------------------------------------------------------
    def _consume(self) -> None:
        try:
            self._consume_blocks()
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._close_stream()
            self._work.close()

    def _new_resampler(self):
        import soxr

        if self.sample_rate == SAMPLE_RATE:
            return None
        return soxr.ResampleStream(self.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def _consume_blocks(self) -> None:
        ring = self._ring
        assert ring is not None and self.sample_rate is not None
        rate = self.sample_rate
        limit = None if self.seconds is None else max(1, round(self.seconds * rate))
        expected = 0  # the next device frame
        offset = 0.0  # stream seconds at which the current segmenter started
        resampler = self._new_resampler()
        last_audio = time.monotonic()
        while True:
            if self._abandon.is_set():
                return
            block = ring.get()
            if block is None:
                if self._stop_requested.is_set() or not self._stream_active():
                    block = ring.get()  # the callback may have put one just now
                    if block is None:
                        self._ended = (
                            self._stop_reason if self._stop_requested.is_set() else "stream ended"
                        )
                        break
                else:
                    if time.monotonic() - last_audio > STALL_TIMEOUT:
                        raise DeviceError(
                            f"'{self.device_name}' stopped delivering audio (nothing for "
                            f"{STALL_TIMEOUT:g} s); was it unplugged or taken by another "
                            "program?"
                        )
                    time.sleep(_POLL)
                    continue
            last_audio = time.monotonic()
            first, data, captured = block
            if limit is not None and first >= limit:
                self._ended = "seconds"
                break
            if first > expected:  # the ring refused audio: close what was open, go on after
                self._finish_segment(resampler, offset)
                offset, resampler = first / rate, self._new_resampler()
            mono = _mono(data)
            if limit is not None and first + mono.size > limit:
                keep = limit - first
                captured -= (mono.size - keep) / rate
                mono = mono[:keep]
            expected = first + mono.size
            self._mark(expected, captured)
            out = mono if resampler is None else resampler.resample_chunk(mono)
            self._submit(self._segmenter.push(out), offset)
            if limit is not None and expected >= limit:
                self._ended = "seconds"
                break
        self._close_stream()  # before the last utterances: no more audio is wanted
        self._finish_segment(resampler, offset)

    def _finish_segment(self, resampler: Any, offset: float) -> None:
        """End of the stream or a gap: the resampler's tail, then the segmenter's."""
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._submit(self._segmenter.push(tail), offset)
        self._submit(self._segmenter.flush(), offset)

    def _mark(self, end_frame: int, captured: float) -> None:
        """Remember when device frame ``end_frame`` was captured (for latencies)."""
        self._frames_done = end_frame
        self._marks.append((end_frame, captured))
        keep_from = end_frame - _MARK_SECONDS * (self.sample_rate or SAMPLE_RATE)
        while len(self._marks) > 1 and self._marks[0][0] < keep_from:
            self._marks.popleft()

    def _captured_at(self, seconds: float) -> float:
        """Clock time at which the sample at ``seconds`` of the stream was captured."""
        rate = self.sample_rate or SAMPLE_RATE
        frame = seconds * rate
        if not self._marks:  # pragma: no cover - an utterance comes after audio
            return self._clock()
        found = self._marks[-1][1]
        for end_frame, captured in reversed(self._marks):
            if end_frame < frame:
                break
            found = captured - (end_frame - frame) / rate
        return found

    def _submit(self, utterances: list[Utterance], offset: float) -> None:
        for u in utterances:
            self._found += 1
            end = offset + u.end
            work = _Work(self._found, offset + u.start, end, self._captured_at(end), u.signal)
            try:
                self._work.put(work)  # a full queue leaves the oldest's tombstone
            except QueueClosed:  # pragma: no cover - only the consumer closes it
                break

    # -- the predictor thread ------------------------------------------------------------
    def _predict_loop(self) -> None:
        try:
            while True:
                try:
                    work = self._work.get()
                except QueueClosed:
                    break
                if work is None:  # pragma: no cover - get() without timeout waits
                    continue
                self._settle(work)
        except BaseException as exc:
            self._fail(exc)
            for work in iter(self._pending_or_none, None):
                self._deliver_dropped(work, "the listener failed")
        finally:
            self._events.close()

    def _pending_or_none(self) -> _Work | None:
        try:
            return self._work.get(timeout=0)
        except QueueClosed:
            return None

    def _settle(self, work: _Work) -> None:
        if work.signal is None:
            self._deliver_dropped(work, "newer utterances came while the model was busy")
            return
        if self._abandon.is_set():
            self._deliver_dropped(work, "listening stopped before it was predicted")
            return
        started = self._clock()
        try:
            prediction = self._prediction(work.signal)
        except EmovoxError as exc:
            self._failed += 1
            self._deliver(
                UtteranceEvent(
                    work.index,
                    work.start,
                    work.end,
                    "error",
                    error=str(exc),
                    ended_at=work.ended_at,
                )
            )
            return
        self._predicted += 1
        self._deliver(
            UtteranceEvent(
                work.index,
                work.start,
                work.end,
                "ok",
                prediction=prediction,
                compute=self._clock() - started,
                ended_at=work.ended_at,
            )
        )

    def _prediction(self, signal: np.ndarray) -> Prediction:
        """``predict_signal`` on one utterance; with ``adapt``, the utterance joins the
        running profile first and the answer is adapted to it."""
        if not self.adapt:
            return self._predictor.predict_signal(
                signal, sample_rate=SAMPLE_RATE, classes=self.classes
            )
        analysis = self._predictor._analyse(signal, sample_rate=SAMPLE_RATE)
        profile = self.profile or Profile.empty(analysis.embedding.size)
        self.profile = profile.add(analysis.embedding)
        return self._predictor._finish(analysis, self.classes, self.profile)  # type: ignore[return-value]

    def _deliver_dropped(self, work: _Work, reason: str) -> None:
        self._dropped += 1
        self._deliver(
            UtteranceEvent(
                work.index, work.start, work.end, "dropped", error=reason, ended_at=work.ended_at
            )
        )

    def _deliver(self, event: UtteranceEvent) -> None:
        self._events.put(event)  # a caller that reads nothing loses the oldest events

    # -- the caller's side ---------------------------------------------------------------
    def events(self) -> Iterator[UtteranceEvent]:
        """Each utterance's event, in order, as it is settled; ends when listening ends.

        ``latency`` and ``late`` are set here, at delivery. Raises what stopped the
        listener's threads, if anything did (e.g. a :class:`DeviceError`).
        """
        while True:
            try:
                event = self._events.get(timeout=0.1)  # wakes up for Ctrl-C
            except QueueClosed:
                break
            if event is None:
                continue
            latency = self._clock() - event.ended_at
            late = event.status == "ok" and latency > self.late_after
            if event.status == "ok":
                self._latencies.append(latency)
                self._late += late
            yield replace(event, latency=latency, late=late)
        self._raise_failure()

    def stop(self, *, drain: bool = True, reason: str = "stopped") -> None:
        """Close the stream. With ``drain``, what was heard is still analysed and predicted
        (read the rest from :meth:`events`); without, pending utterances are dropped."""
        if not self._stop_requested.is_set():
            self._stop_reason = reason
        self._stop_requested.set()
        if not drain:
            self._abandon.set()
        self._close_stream()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end; True when they all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return not self.running

    @property
    def running(self) -> bool:
        """Whether any of the listener's threads is still running."""
        return any(thread.is_alive() for thread in self._threads)

    def close(self, *, drain: bool = False, timeout: float = 10.0) -> ListenSummary:
        """Stop (see :meth:`stop`), wait for the threads, and return the summary.

        If the threads have not ended within ``timeout`` seconds (a prediction still
        running), the rest is dropped and they are waited for again.
        """
        self.stop(drain=drain)
        if not self.join(timeout):
            self._abandon.set()
            self.join(timeout)
        return self.summary()

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(drain=exc_type is None)

    def summary(self) -> ListenSummary:
        """The counts so far (final once the threads have ended)."""
        rate = self.sample_rate or SAMPLE_RATE
        ring = self._ring
        return ListenSummary(
            heard=self._frames_done / rate,
            utterances=self._found,
            predicted=self._predicted,
            dropped=self._dropped,
            failed=self._failed,
            late=self._late,
            overflows=0 if ring is None else ring.overflows,
            lost=0.0 if ring is None else ring.lost_frames / rate,
            input_overflows=self._input_overflows,
            undelivered=self._events.evicted,
            latencies=tuple(self._latencies),
            ended=None if self.running else (self._ended or self._stop_reason),
        )

    @property
    def pending(self) -> int:
        """Utterances waiting for the model (never more than ``queue_size``)."""
        return len(self._work)

    @property
    def work_high_water(self) -> int:
        """The most utterances that ever waited for the model at once."""
        return self._work.high_water

    # -- shared --------------------------------------------------------------------------
    def _stream_active(self) -> bool:
        stream = self._stream
        if stream is None or self._stream_closed:
            return False
        try:
            return bool(getattr(stream, "active", True))
        except Exception:  # a closed sounddevice stream may raise
            return False

    def _close_stream(self) -> None:
        with self._stream_lock:
            stream, closed = self._stream, self._stream_closed
            self._stream_closed = True
        if stream is None or closed:
            return
        try:
            stream.stop()
        finally:
            stream.close()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
            self._ended = "failed"
        self._stop_requested.set()
        self._abandon.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def listen(
    recognizer: Recognizer | None = None,
    *,
    on_event: Callable[[UtteranceEvent], object] | None = None,
    on_start: Callable[[Listener], object] | None = None,
    seconds: float | None = None,
    **options: Any,
) -> ListenSummary:
    """Listen until ``seconds`` of audio were heard, the stream ends, or Ctrl-C.

    ``on_start(listener)`` is called once the device delivers audio (the moment to say
    "listening"); ``on_event(event)`` for every utterance, in order, in this thread. The
    first Ctrl-C stops the microphone and finishes what was heard (its events still come);
    a second drops what is left. Returns the :class:`ListenSummary`. ``options`` are
    :class:`Listener`'s; ``recognizer`` defaults to the bundled model.

    Raises:
        ParameterError, ModelError: bad options or classes (nothing opened yet);
        DeviceError: no usable microphone, or one that delivers no audio.
    """
    if recognizer is None:
        from emovox.recognizer import Recognizer

        recognizer = Recognizer.load()
    listener = Listener(recognizer, seconds=seconds, **options)
    listener.start()

    def pump() -> None:
        for event in listener.events():
            if on_event is not None:
                on_event(event)

    try:
        try:
            listener.wait_ready()
            if on_start is not None:
                on_start(listener)
            pump()
        except KeyboardInterrupt:
            listener.stop(drain=True, reason="interrupted")  # finish what was heard
            try:
                pump()
            except KeyboardInterrupt:
                listener.stop(drain=False, reason="interrupted")  # a second Ctrl-C: drop it
                pump()
    finally:
        summary = listener.close(drain=False)
    return summary
