"""Utterances from a stream of audio blocks: the one segmenter of timeline and live modes.

:class:`UtteranceSegmenter` takes mono 16 kHz blocks of any length (a file read block by
block, a microphone callback's buffers) and returns each utterance as soon as it is over:
its start and end in seconds from the start of the stream and its audio. It runs
silero-vad block by block (:class:`~emovox.segmentation.silero.VadStream`) and applies the
steps of :mod:`~emovox.segmentation.regions` incrementally, in the same order and with the
same :class:`~emovox.segmentation.regions.VadParams`:

1. hysteresis (``onset`` / ``offset``);
2. a finished region is held until ``min_duration_off`` seconds (at least ``pad``) of
   non-speech have followed it: speech resuming sooner continues the same region;
3. regions shorter than ``min_duration_on`` are dropped;
4. each region is padded by ``pad`` (clipped at the start of the stream, and at its end on
   :meth:`flush`).

On a whole signal this gives the regions of :func:`~emovox.segmentation.regions.binarize`
whenever ``min_duration_off >= 2 * pad`` (silero's defaults: 0.1 s and 0.03 s), and a test
checks it. Two things differ by design: speech longer than ``max_duration`` is cut into
pieces of that length (so that a live mode answers during a monologue and memory stays
bounded), and only the audio not yet behind a finished utterance is kept: memory does not
grow with the length of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emovox.audio import SAMPLE_RATE
from emovox.errors import ParameterError
from emovox.segmentation.regions import Region, VadParams
from emovox.segmentation.silero import SileroVad, shared_vad

DEFAULT_MAX_DURATION = 20.0
"""Longest utterance returned, in seconds; longer speech is cut into pieces this long."""


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech: ``start`` and ``end`` in seconds from the start of the stream,
    and its mono 16 kHz ``signal`` (padding included)."""

    start: float
    end: float
    signal: np.ndarray = field(repr=False)

    @property
    def duration(self) -> float:
        return self.end - self.start


class UtteranceSegmenter:
    """Push blocks, get finished utterances (see the module docstring).

    Pieces of speech cut at ``max_duration`` meet without padding between them.
    Not for several threads at once: give each stream its own segmenter (they share the
    model). ``vad`` defaults to the process-wide :func:`shared_vad`.
    """

    def __init__(
        self,
        *,
        params: VadParams | None = None,
        max_duration: float = DEFAULT_MAX_DURATION,
        vad: SileroVad | None = None,
    ) -> None:
        self.params = params or VadParams()
        if not (np.isfinite(max_duration) and max_duration > 2 * self.params.min_duration_on):
            raise ParameterError(
                f"max_duration must be a number of seconds above 2 x min_duration_on, "
                f"got {max_duration!r}."
            )
        self.max_duration = float(max_duration)
        self._vad = vad or shared_vad()
        self._stream = self._vad.stream()
        self._frame = self._vad.frame_duration
        self._hold = max(self.params.min_duration_off, self.params.pad)
        self._reset()

    def _reset(self) -> None:
        self._frames = 0  # probabilities seen
        self._start: float | None = None  # start of the region being spoken (merges included)
        self._pending: Region | None = None  # a finished region waiting for what follows
        self._audio = np.zeros(0, dtype=np.float32)  # samples from self._audio_start on
        self._audio_start = 0
        self._samples = 0  # samples pushed
        self._cuts: set[float] = set()  # where max_duration cut a stretch of speech

    @property
    def position(self) -> float:
        """Seconds of audio pushed so far."""
        return self._samples / SAMPLE_RATE

    def push(self, block: np.ndarray) -> list[Utterance]:
        """Feed the next mono 16 kHz float block; returns the utterances it finished."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        probs = self._stream.process(block)
        self._audio = np.concatenate([self._audio, block])
        self._samples += block.size
        done: list[Region] = []
        for p in probs:
            self._step(float(p), done)
        utterances = [self._cut(region) for region in done]
        self._forget()
        return utterances

    def flush(self) -> list[Utterance]:
        """End of stream: finish what is open or held; the segmenter is then fresh again."""
        done: list[Region] = []
        for p in self._stream.flush():
            self._step(float(p), done)
        end = self._samples / SAMPLE_RATE
        if self._start is not None:  # still speaking at the end: close at the last frame
            self._pending = Region(self._start, self._frames * self._frame)
            self._start = None
        if self._pending is not None:
            region = Region(self._pending.start, min(self._pending.end, end))
            self._pending = None
            if region.start < end:
                self._finish(region, done)
        utterances = [self._cut(region) for region in done]
        self._stream = self._vad.stream()
        self._reset()
        return utterances

    # -- the steps, one probability at a time -------------------------------------------
    def _step(self, p: float, done: list[Region]) -> None:
        now = self._frames * self._frame
        self._frames += 1
        params = self.params
        if self._start is None:
            if p > params.onset:
                held = self._pending
                if held is not None and now - held.end < params.min_duration_off:
                    self._start = held.start  # a short pause: the same region goes on
                else:
                    if held is not None:
                        self._finish(held, done)
                    self._start = now
                self._pending = None
        elif p < params.offset:
            self._pending = Region(self._start, now)
            self._start = None
        elif now - self._start >= self.max_duration:
            done.append(Region(self._start, now))  # a long stretch: answer now, go on
            self._cuts.add(now)  # pieces of one stretch meet here, without padding
            self._start = now
        held = self._pending
        quiet_for = self._frames * self._frame - held.end if held is not None else 0.0
        if self._start is None and held is not None and quiet_for >= self._hold:
            self._finish(held, done)
            self._pending = None

    def _finish(self, region: Region, done: list[Region]) -> None:
        if region.duration >= self.params.min_duration_on:
            done.append(region)

    # -- audio ---------------------------------------------------------------------------
    def _cut(self, region: Region) -> Utterance:
        """The padded region and its audio (clipped to the audio pushed so far)."""
        pad = self.params.pad
        end = self._samples / SAMPLE_RATE
        start = max(0.0, region.start - (0.0 if region.start in self._cuts else pad))
        stop = min(end, region.end + (0.0 if region.end in self._cuts else pad))
        first = max(round(start * SAMPLE_RATE) - self._audio_start, 0)
        last = max(round(stop * SAMPLE_RATE) - self._audio_start, first)
        return Utterance(start=start, end=stop, signal=self._audio[first:last].copy())

    def _forget(self) -> None:
        """Drop audio that no open, held or future utterance can need."""
        keep_from = self._frames * self._frame - self._hold
        for start in (self._start, None if self._pending is None else self._pending.start):
            if start is not None:
                keep_from = min(keep_from, start)
        first = max(round((keep_from - self.params.pad) * SAMPLE_RATE), 0)
        drop = first - self._audio_start
        if drop > 0:
            self._audio = self._audio[drop:]
            self._audio_start = first
        self._cuts = {t for t in self._cuts if t >= keep_from - self.max_duration}
