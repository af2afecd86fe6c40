"""Live mode: a microphone's utterances and their emotions as they end (``emovox listen``).

- :mod:`~emovox.live.listener`: :class:`Listener` (stream -> segmenter -> recognizer, on
  their own threads) and :func:`listen` (run one until ``seconds`` or Ctrl-C);
- :mod:`~emovox.live.events`: :class:`UtteranceEvent` (one per utterance: ``ok``,
  ``dropped`` or ``error``) and :class:`ListenSummary`;
- :mod:`~emovox.live.buffers`: the bounded hand-overs between threads (:class:`BlockRing`
  from the audio thread, :class:`DropOldestQueue` for work and events).

Importing this package opens no device and loads no model.
"""

from emovox.live.buffers import Block, BlockRing, DropOldestQueue, QueueClosed
from emovox.live.events import ListenSummary, UtteranceEvent
from emovox.live.listener import (
    BLOCK_SECONDS,
    DEFAULT_BUFFER_SECONDS,
    DEFAULT_LATE_AFTER,
    DEFAULT_MAX_UTTERANCE,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_VAD_PAUSE,
    Listener,
    StreamFactory,
    listen,
)

__all__ = [
    "BLOCK_SECONDS",
    "DEFAULT_BUFFER_SECONDS",
    "DEFAULT_LATE_AFTER",
    "DEFAULT_MAX_UTTERANCE",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_VAD_PAUSE",
    "Block",
    "BlockRing",
    "DropOldestQueue",
    "ListenSummary",
    "Listener",
    "QueueClosed",
    "StreamFactory",
    "UtteranceEvent",
    "listen",
]
