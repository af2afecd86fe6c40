"""``emovox listen``: registered on the CLI's app when :mod:`emovox.interfaces.cli` imports it.

A thin layer over :func:`emovox.live.listen`. Checks run before anything is announced: the
options, then the microphone (``DeviceError`` says what is missing), then the model and its
classes; "Listening" is printed only once the device delivers audio. Output:

- a terminal: a live view (the current emotion and its confidence, the recent utterances with
  their times, confidences and latencies, and the counts of dropped and late ones);
- ``--json``: one JSON object per utterance and line on standard output, flushed as it comes
  (``status`` ok/dropped/error, ``index``, ``start``, ``end``, ``label``, ``confidence``,
  ``probabilities``, ``latency``, ``late``, ``compute``), for piping;
- otherwise (a pipe without ``--json``): one readable line per utterance.

The summary (counts, latency median and 90th percentile) goes to standard error. Ctrl-C stops
listening, finishes what was heard and exits 0; a second Ctrl-C drops it.
"""

from __future__ import annotations

import collections
import json
import math
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from emovox.errors import ParameterError
from emovox.interfaces.cli import (
    ClassesOpt,
    DeviceOpt,
    JsonOpt,
    ModelFolderOpt,
    _device,
    app,
    err,
    escape,
    out,
)

if TYPE_CHECKING:
    from emovox.live import ListenSummary, UtteranceEvent
    from emovox.live.listener import Listener

RECENT = 8
"""Utterances shown in the live view."""


class LiveView:
    """The live display: rich renders it on every refresh (``__rich__``)."""

    def __init__(self, labels: list[str], *, recent: int = RECENT) -> None:
        self.labels = labels
        self.recent: collections.deque[UtteranceEvent] = collections.deque(maxlen=recent)
        self.current: UtteranceEvent | None = None
        self.listener: Listener | None = None

    def add(self, event: UtteranceEvent) -> None:
        self.recent.append(event)
        if event.status == "ok":
            self.current = event

    def _now(self) -> Panel:
        event = self.current
        if event is None or event.prediction is None:
            return Panel(Text("waiting for speech ...", style="dim"), title="emotion now")
        confidence = event.prediction.confidence
        bar = "█" * round(20 * confidence) + "░" * (20 - round(20 * confidence))
        text = Text.assemble(
            (f"{event.prediction.label:<10}", "bold"),
            f" {bar} {confidence:.0%}",
            (f"   utterance {event.index}, {event.start:.1f}-{event.end:.1f} s", "dim"),
        )
        return Panel(text, title="emotion now")

    def _table(self) -> Table:
        table = Table(title="recent utterances", expand=False)
        for column, justify in (
            ("#", "right"),
            ("time s", "right"),
            ("emotion", "left"),
            ("confidence", "right"),
            ("latency s", "right"),
            ("note", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for event in reversed(self.recent):
            times = f"{event.start:.1f}-{event.end:.1f}"
            latency = "" if event.latency is None else f"{event.latency:.2f}"
            if event.prediction is not None:
                label, confidence = event.prediction.label, f"{event.prediction.confidence:.2f}"
                note = "[yellow]late[/yellow]" if event.late else ""
            else:
                label, confidence = f"[red]{event.status}[/red]", ""
                note = escape(event.error or "")
            table.add_row(str(event.index), times, label, confidence, latency, note)
        return table

    def _counts(self) -> Text:
        if self.listener is None:
            return Text("")
        s = self.listener.summary()
        line = (
            f"{s.heard:.0f} s heard · {s.utterances} utterances · {s.predicted} predicted · "
            f"{s.dropped} dropped · {s.late} late · {s.lost:.1f} s audio lost"
        )
        style = "yellow" if s.dropped or s.late or s.lost else "dim"
        running = getattr(self.listener, "running", True)
        return Text(line + (" · Ctrl-C to stop" if running else ""), style=style)

    def __rich__(self) -> Group:
        return Group(self._now(), self._table(), self._counts())


def plain_line(event: UtteranceEvent) -> str:
    """One readable line per utterance (for a pipe without ``--json``)."""
    times = f"{event.index:>4}  {event.start:8.2f}-{event.end:8.2f} s"
    latency = "" if event.latency is None else f"  latency {event.latency:.2f} s"
    if event.prediction is not None:
        late = " (late)" if event.late else ""
        p = event.prediction
        return f"{times}  {p.label:<9} {p.confidence:.2f}{latency}{late}"
    return f"{times}  {event.status}: {event.error}{latency}"


@app.command("listen")
def listen_command(
    device: DeviceOpt = None,
    model: ModelFolderOpt = None,
    classes: ClassesOpt = None,
    seconds: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds of audio (default: until Ctrl-C)."),
    ] = None,
    as_json: JsonOpt = False,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt",
            help="Adapt to the person speaking as they talk (one speaker per session); "
            "answers improve over the first ten or so utterances.",
        ),
    ] = False,
) -> None:
    """Listen to the microphone; print the emotion of each utterance as it ends."""
    from emovox.audio.record import ensure_input_device
    from emovox.live import listen
    from emovox.recognizer import Recognizer

    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"--seconds must be a positive number of seconds, got {seconds}.")
    chosen = ensure_input_device(_device(device))
    recognizer = Recognizer.load(model)
    wanted = recognizer.check_classes(classes)
    view = LiveView(wanted or recognizer.labels)
    live = None
    if not as_json and out.is_terminal:
        from rich.live import Live

        live = Live(view, console=out, refresh_per_second=4, transient=False)

    def on_start(listener: Listener) -> None:
        view.listener = listener
        limit = "" if seconds is None else f" for {seconds:g} s"
        err.print(
            f"Listening on '{escape(listener.device_name or '')}' at {listener.sample_rate} Hz"
            f"{limit}; press Ctrl-C to stop.",
            highlight=False,
        )
        if live is not None:
            live.start()

    def on_event(event: UtteranceEvent) -> None:
        if as_json:
            print(json.dumps(event.to_dict()), flush=True)
        elif live is not None:
            view.add(event)
            live.refresh()
        else:
            out.print(escape(plain_line(event)), highlight=False)

    try:
        summary = listen(
            recognizer,
            device=chosen.index,
            classes=wanted,
            seconds=seconds,
            on_start=on_start,
            on_event=on_event,
            adapt=adapt,
        )
    finally:
        if live is not None:
            live.stop()
    _print_summary(summary)


def _print_summary(summary: ListenSummary) -> None:
    ended = {"interrupted": "stopped (Ctrl-C)", "stream ended": "the input stream ended"}
    reason = ended.get(summary.ended or "", summary.ended or "stopped")
    style = "yellow" if summary.dropped or summary.late or summary.lost else "dim"
    err.print(f"[{style}]{escape(reason)}: {escape(summary.describe())}[/{style}]", highlight=False)
