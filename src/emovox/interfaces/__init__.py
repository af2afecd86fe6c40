"""Thin interfaces over :class:`emovox.Recognizer`: the command line (and later HTTP)."""
