"""Emotion over time in a recording of any length: what emotion, when, and on which channel.

The engine behind :meth:`emovox.Recognizer.timeline` and ``emovox timeline``:

    AudioStream (blocks of 16 kHz float32, mixed or one column per channel)
      -> one UtteranceSegmenter per channel (silero-vad, block by block; speech padded by
         VAD_PAD, pauses shorter than VAD_MIN_OFF bridged)
      -> window_bounds: each utterance cut into analysis windows of about ``window`` s
      -> recognizer._probabilities(window samples): the same call as predict_signal
      -> rows; optionally merge_runs: windows of one emotion joined into segments

Memory does not grow with the length of the recording: the stream holds one block, each
segmenter the speech not yet finished (at most its ``max_duration``, 20 s, plus a pause),
and the result one row per window (a few hundred bytes per 3 s of speech). No VAD runs per
window: windows come from the VAD's regions, so a window's probabilities are exactly
``predict_signal`` on its samples with ``check_speech`` off (a test checks it).

Measured (docs/results.md, ``benchmarks/timeline_accuracy.py`` and
``benchmarks/timeline_speed.py``): see the "Timelines" section there for boundary errors,
per-window UAR beside clip-level UAR, speed in times real time and peak memory.

The result is a pandas DataFrame indexed by ``(start, end)`` in seconds from the start of
the recording (as audinterface indexes segments), sorted by start then channel, with the
columns ``channel`` (``mix``, or ``ch1``, ``ch2``, ... with ``channels="each"``), ``label``,
``confidence`` (the probability of the label) and ``p_<class>`` for every class answered.
Times are exact sample positions (sample / 16000), so ``round(start * 16000)`` finds the
window's first sample again. A recording without speech gives an empty frame, not an error.
``frame.attrs`` holds what the rows alone do not say: ``source``, ``duration`` (seconds
read), ``channels``, ``window``, ``hop``, ``merged``, ``model``, ``skipped_speech`` (seconds
of speech in utterances shorter than ``min_window``, not analysed) and ``warnings`` (why
reading stopped early, if it did, and other notes on the input).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from emovox.adaptation import Profile
from emovox.audio.load import SAMPLE_RATE, AudioSource
from emovox.audio.stream import DEFAULT_BLOCK, AudioStream, ChannelMode, check_channels
from emovox.errors import ParameterError
from emovox.progress import ProgressHook, resolve
from emovox.segmentation.windows import (
    DEFAULT_WINDOW,
    MERGE_GAP,
    MIN_WINDOW,
    check_windows,
    merge_runs,
    partition,
    window_bounds,
)

if TYPE_CHECKING:
    import pandas as pd

    from emovox.recognizer import Recognizer
    from emovox.segmentation.online import Utterance
    from emovox.segmentation.regions import VadParams
    from emovox.segmentation.silero import SileroVad

__all__ = [
    "DEFAULT_WINDOW",
    "MERGE_GAP",
    "MIN_WINDOW",
    "VAD_MIN_OFF",
    "VAD_PAD",
    "Envelope",
    "default_vad_params",
    "empty_timeline",
    "summary",
    "timeline",
    "timeline_records",
]

INDEX = ["start", "end"]


def default_vad_params() -> VadParams:
    """The voice activity parameters of timelines: silero's thresholds, :data:`VAD_PAD`
    and :data:`VAD_MIN_OFF`."""
    from emovox.segmentation.regions import VadParams

    return VadParams(pad=VAD_PAD, min_duration_off=VAD_MIN_OFF)


VAD_PAD = 0.3
"""Seconds of audio kept on each side of the speech found (silero's own default is 0.03 s).
The model learnt from clips whose speech has silence around it, and hears the speech's
soft onsets and endings that the detector leaves out. On the development split (RAVDESS
actors 1-10, 3 s windows; ``benchmarks/timeline_accuracy.py --split dev --sweep-vad``),
per-window UAR with clean / noisy gaps / continuous speech: 0.853 / 0.809 / 0.751 with
silero's 0.03 s, 0.964 / 0.925 / 0.769 with 0.3 s, 0.982 / 0.930 / 0.748 with 0.5 s and
0.968 / 0.860 / 0.716 with 0.75 s. 0.3 and 0.5 s tie on average; 0.3 s keeps segment
boundaries closer to the speech (median error 0.27 s against 0.46 s, most of it the
padding itself) and analyses less audio."""

VAD_MIN_OFF = 0.6
"""Pauses shorter than this (seconds) do not end an utterance; at least ``2 * VAD_PAD``,
so padded utterances never overlap (silero's own default is 0.1 s)."""


@dataclass
class _Rows:
    """Windows found so far, as compact columns (one float per class per window)."""

    channel: list[int] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    """With ``adapt``: the adapted head's raw scores of each window (one per class)."""
    adapted: list[int] = field(default_factory=list)


def timeline(
    recognizer: Recognizer,
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    window: float = DEFAULT_WINDOW,
    hop: float | None = None,
    min_window: float = MIN_WINDOW,
    merge: bool = False,
    merge_gap: float = MERGE_GAP,
    channels: ChannelMode = "mix",
    classes: Any = None,
    hook: ProgressHook | None = None,
    vad_params: VadParams | None = None,
    vad: SileroVad | None = None,
    envelope: Envelope | None = None,
    block_duration: float = DEFAULT_BLOCK,
    adapt: bool = False,
) -> pd.DataFrame:
    """The timeline of ``source`` (see the module docstring); ``Recognizer.timeline``.

    Args:
        recognizer: the model that predicts every window.
        source: a path (``"-"``: standard input), the bytes of a file, or an array with
            its ``sample_rate``. Files are read block by block, whatever their length.
        window, hop, min_window: analysis windows in seconds
            (:func:`~emovox.segmentation.windows.window_bounds`); ``hop`` None is
            ``window`` (no overlap).
        merge: join consecutive windows of one emotion, less than ``merge_gap`` seconds
            apart, into one row (probabilities averaged, weighted by duration).
        channels: ``"mix"`` averages the channels; ``"each"`` analyses every channel on its
            own (a stereo call: agent and customer), rows tagged ``ch1``, ``ch2``, ...
        classes: restrict the answer to these classes (as in ``Recognizer.predict``).
        hook: progress, counted in seconds of audio read.
        vad_params, vad: the voice activity detector's parameters and model (defaults:
            silero's thresholds with :data:`VAD_PAD` and :data:`VAD_MIN_OFF`, and the
            shared silero-vad session).
        envelope: an :class:`Envelope` to fill with the waveform's outline (for plots).
        block_duration: seconds read per block.
        adapt: adapt each channel to its own speaker from the recording itself: every
            window is answered by the adapted head with the profile of all the channel's
            windows (:mod:`emovox.adaptation`; a column ``adapted`` gives their number).
            Memory stays flat: a window keeps its scores, not its embedding.

    Raises :class:`~emovox.errors.ParameterError` for a bad argument and
    :class:`~emovox.errors.ModelError` for an unknown class (before any audio is read),
    :class:`~emovox.errors.AudioError` when the source cannot be opened as audio. A file
    that breaks part way is not an error: its readable part is analysed and
    ``attrs["warnings"]`` says where it stopped.
    """
    from emovox.segmentation.online import UtteranceSegmenter

    chosen = recognizer.check_classes(classes)
    labels = chosen or list(recognizer.labels)
    w, h, m = check_windows(window, hop, min_window)
    mode = check_channels(channels)
    if not isinstance(merge, bool):
        raise ParameterError(f"merge must be True or False, got {merge!r}.")
    if not (isinstance(merge_gap, int | float) and math.isfinite(merge_gap) and merge_gap >= 0):
        raise ParameterError(f"merge_gap must be a number of seconds >= 0, got {merge_gap!r}.")
    if envelope is not None and not isinstance(envelope, Envelope):
        raise ParameterError(f"envelope must be an Envelope, got {type(envelope).__name__}.")
    if not isinstance(adapt, bool):
        raise ParameterError(f"adapt must be True or False, got {adapt!r}.")
    if adapt:
        recognizer.require_adaptation()

    rows = _Rows()
    skipped = 0.0
    profiles: dict[int, Profile] = {}

    def analyse(channel: int, utterance: Utterance) -> None:
        nonlocal skipped
        signal = utterance.signal
        first = round(utterance.start * SAMPLE_RATE)  # the segmenter's own rounding
        bounds = window_bounds(signal.size, window=w, hop=h, min_window=m)
        if not bounds:
            skipped += signal.size / SAMPLE_RATE
        for a, b in bounds:
            if adapt:
                embedding = np.asarray(recognizer.extractor(signal[a:b]))
                probabilities = recognizer._answer(embedding, chosen, None)[0]
                rows.scores.append(
                    recognizer.adaptation.head.decision_function(embedding[np.newaxis])[0]
                )
                profiles[channel] = profiles.get(channel, Profile.empty(embedding.size)).add(
                    embedding
                )
            else:
                probabilities = recognizer._probabilities(signal[a:b], chosen)
            rows.channel.append(channel)
            rows.start.append((first + a) / SAMPLE_RATE)
            rows.end.append((first + b) / SAMPLE_RATE)
            rows.probabilities.append(np.array([probabilities[k] for k in labels]))

    with AudioStream(
        source, sample_rate=sample_rate, channels=mode, block_duration=block_duration
    ) as stream:
        name = stream.source_name
        step = f"timeline {os.path.basename(name)}" if name else "timeline"
        total = None if stream.duration is None else max(1, math.ceil(stream.duration))
        report = resolve(hook)
        report(step, total=total, completed=0)
        segmenters = [
            UtteranceSegmenter(params=vad_params or default_vad_params(), vad=vad)
            for _ in range(len(stream.names))
        ]
        samples = 0
        for block in stream:
            samples += block.shape[0]
            if envelope is not None:
                envelope.add(block)
            for channel, segmenter in enumerate(segmenters):
                for utterance in segmenter.push(block[:, channel]):
                    analyse(channel, utterance)
            seconds = int(stream.position)
            report(step, total=total, completed=seconds if total is None else min(seconds, total))
        for channel, segmenter in enumerate(segmenters):
            for utterance in segmenter.flush():
                analyse(channel, utterance)
        done = total if total is not None else max(1, int(stream.position))
        report(step, total=done, completed=done)
        warnings = ([stream.error] if stream.error else []) + stream.notes
        names = stream.names

    if adapt:
        _adapt_rows(rows, recognizer, profiles, chosen, labels)
    frame = _frame(rows, labels, names, adapt=adapt)
    if merge:
        frame = _merge(frame, labels, merge_gap)
    frame.attrs.update(
        source=name,
        duration=samples / SAMPLE_RATE,
        channels=names,
        window=w,
        hop=h,
        merged=merge,
        model=recognizer.model_id,
        skipped_speech=round(skipped, 3),
        warnings=warnings,
        adapted={names[c]: p.count for c, p in profiles.items()} if adapt else {},
    )
    return frame


def _adapt_rows(
    rows: _Rows,
    recognizer: Recognizer,
    profiles: dict[int, Profile],
    chosen: list[str] | None,
    labels: list[str],
) -> None:
    """Replace each window's probabilities by the adapted head's, with the profile of all
    its channel's windows (windows of a channel below ``min_utterances`` stay unadapted)."""
    adaptation = recognizer.adaptation
    assert adaptation is not None
    head = adaptation.head
    shifts = {
        c: head.weight @ p.reference(adaptation.prior, adaptation.shrinkage)
        for c, p in profiles.items()
        if adaptation.applies(p)
    }
    for i, channel in enumerate(rows.channel):
        if channel not in shifts:
            rows.adapted.append(0)
            continue
        proba = head.proba_from_scores((rows.scores[i] - shifts[channel])[np.newaxis])[0]
        answer = recognizer._restrict(proba, head.classes_, chosen)
        rows.probabilities[i] = np.array([answer[k] for k in labels])
        rows.adapted.append(profiles[channel].count)


def _frame(rows: _Rows, labels: list[str], names: list[str], *, adapt: bool = False):
    """The rows as the timeline's DataFrame, sorted by start then channel."""
    import pandas as pd

    if not rows.start:
        frame = empty_timeline(labels)
        if adapt:
            frame.insert(2, "adapted", pd.Series(dtype="int64"))
        return frame
    probabilities = np.vstack(rows.probabilities)
    best = probabilities.argmax(axis=1)
    columns: dict[str, Any] = {
        "channel": [names[c] for c in rows.channel],
        "label": [labels[i] for i in best],
        "confidence": probabilities[np.arange(best.size), best],
    }
    if adapt:
        columns["adapted"] = np.asarray(rows.adapted, dtype=np.int64)
    columns.update({f"p_{k}": probabilities[:, i] for i, k in enumerate(labels)})
    index = pd.MultiIndex.from_arrays([rows.start, rows.end], names=INDEX)
    frame = pd.DataFrame(columns, index=index)
    order = np.lexsort((rows.channel, rows.start))
    return frame.iloc[order]


def empty_timeline(labels: list[str]) -> pd.DataFrame:
    """A timeline without rows: the same index and columns as one with rows."""
    import pandas as pd

    index = pd.MultiIndex.from_arrays(
        [np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)], names=INDEX
    )
    columns = {
        "channel": pd.Series([], dtype=object),
        "label": pd.Series([], dtype=object),
        "confidence": pd.Series([], dtype=np.float64),
    }
    columns.update({f"p_{k}": pd.Series([], dtype=np.float64) for k in labels})
    return pd.DataFrame({k: v.to_numpy() for k, v in columns.items()}, index=index)


def _merge(frame: pd.DataFrame, labels: list[str], max_gap: float) -> pd.DataFrame:
    """Consecutive windows of one label and channel joined (see :func:`merge_runs`)."""
    import pandas as pd

    if frame.empty:
        return frame
    pieces = []
    p_columns = [f"p_{k}" for k in labels]
    for channel, part in frame.groupby("channel", sort=False):
        starts = part.index.get_level_values("start").to_numpy()
        ends = part.index.get_level_values("end").to_numpy()
        probabilities = part[p_columns].to_numpy()
        for i, j in merge_runs(starts, ends, part["label"].tolist(), max_gap=max_gap):
            weights = ends[i:j] - starts[i:j]
            mean = np.average(probabilities[i:j], axis=0, weights=weights)
            label = part["label"].iloc[i]
            row = {"start": starts[i], "end": ends[j - 1], "channel": channel, "label": label}
            row["confidence"] = float(mean[labels.index(label)])
            if "adapted" in part.columns:  # one profile per channel: the same on every row
                row["adapted"] = int(part["adapted"].iloc[i])
            row.update(dict(zip(p_columns, mean.tolist(), strict=True)))
            pieces.append(row)
    merged = pd.DataFrame(pieces).sort_values(["start", "channel"], kind="stable")
    return merged.set_index(INDEX)[list(frame.columns)]


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of speech time per emotion, per channel: one row per channel (index
    ``channel``), the column ``speech`` (seconds analysed; overlapping windows split at
    the middle of their overlap, so no second counts twice) and one column per class
    (fraction of that speech time whose window or segment has that label; rows sum to 1).
    """
    import pandas as pd

    labels = [c[2:] for c in frame.columns if c.startswith("p_")]
    rows = []
    for channel, part in frame.groupby("channel", sort=False):
        starts, ends = partition(
            part.index.get_level_values("start").to_numpy(),
            part.index.get_level_values("end").to_numpy(),
        )
        seconds = np.clip(ends - starts, 0.0, None)
        total = float(seconds.sum())
        row: dict[str, Any] = {"channel": channel, "speech": total}
        for label in labels:
            mine = float(seconds[(part["label"] == label).to_numpy()].sum())
            row[label] = mine / total if total > 0 else 0.0
        rows.append(row)
    result = pd.DataFrame(rows, columns=["channel", "speech", *labels])
    return result.set_index("channel")


def timeline_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON-able dicts: start, end, channel, label, confidence, probabilities
    and adapted (windows of the channel's speaker profile; 0 when not adapted)."""
    labels = [c[2:] for c in frame.columns if c.startswith("p_")]
    records = []
    # to_dict, not itertuples: class names with spaces or symbols are not field names
    for (start, end), values in zip(frame.index, frame.to_dict("records"), strict=True):
        records.append(
            {
                "start": float(start),
                "end": float(end),
                "channel": values["channel"],
                "label": values["label"],
                "confidence": float(values["confidence"]),
                "probabilities": {k: float(values[f"p_{k}"]) for k in labels},
                "adapted": int(values.get("adapted", 0)),
            }
        )
    return records


class Envelope:
    """The outline of a stream's waveform for plots: the peak of each output in time bins.

    Holds at most ``max_bins`` bins whatever the length of the recording: when full, pairs
    of bins merge (their width doubles), so memory stays constant.
    """

    def __init__(self, *, bin_duration: float = 0.02, max_bins: int = 4096) -> None:
        if not (math.isfinite(bin_duration) and bin_duration > 0):
            raise ParameterError(f"bin_duration must be positive seconds, got {bin_duration}.")
        if isinstance(max_bins, bool) or not isinstance(max_bins, int) or max_bins < 2:
            raise ParameterError(f"max_bins must be an integer >= 2, got {max_bins!r}.")
        self.bin = max(1, round(bin_duration * SAMPLE_RATE))
        """Samples per bin (16 kHz); doubles each time the bins are halved."""
        self.max_bins = max_bins
        self.samples = 0
        """Samples taken so far."""
        self._peaks = np.zeros((0, 1), np.float32)  # whole bins
        self._partial_peak = np.zeros(1, np.float32)  # the bin being filled
        self._partial = 0  # samples in it

    @property
    def bin_duration(self) -> float:
        return self.bin / SAMPLE_RATE

    @property
    def peaks(self) -> np.ndarray:
        """Peak |sample| per bin and output, float32 ``(bins, outputs)``; the last bin may
        be partly filled."""
        if self._partial:
            return np.vstack([self._peaks, self._partial_peak[None]])
        return self._peaks.copy()

    def add(self, block: np.ndarray) -> None:
        """Take the next ``(frames, outputs)`` (or 1-D) block of 16 kHz samples."""
        data = np.abs(np.asarray(block, dtype=np.float32).reshape(len(block), -1))
        if self.samples == 0:
            self._peaks = np.zeros((0, data.shape[1]), np.float32)
            self._partial_peak = np.zeros(data.shape[1], np.float32)
        self.samples += data.shape[0]
        position = 0
        if self._partial:
            take = min(self.bin - self._partial, data.shape[0])
            if take:
                self._partial_peak = np.maximum(self._partial_peak, data[:take].max(axis=0))
            self._partial += take
            position = take
            if self._partial == self.bin:
                self._peaks = np.vstack([self._peaks, self._partial_peak[None]])
                self._partial = 0
        full = (data.shape[0] - position) // self.bin
        if full:
            chunk = data[position : position + full * self.bin]
            self._peaks = np.vstack([self._peaks, chunk.reshape(full, self.bin, -1).max(axis=1)])
            position += full * self.bin
        if position < data.shape[0]:
            self._partial_peak = data[position:].max(axis=0)
            self._partial = data.shape[0] - position
        while self._peaks.shape[0] + (1 if self._partial else 0) > self.max_bins:
            self._halve()

    def _halve(self) -> None:
        """Merge pairs of bins: the bin width doubles. An odd last whole bin and the bin
        being filled together make the new bin being filled (fewer samples than its width)."""
        pairs = self._peaks.shape[0] // 2
        odd = self._peaks[pairs * 2 :]
        merged = self._peaks[: pairs * 2].reshape(pairs, 2, -1).max(axis=1)
        if odd.shape[0]:
            partial_peak = odd[0]
            if self._partial:
                partial_peak = np.maximum(partial_peak, self._partial_peak)
            self._partial_peak = partial_peak
            self._partial += self.bin
        self._peaks = merged
        self.bin *= 2
