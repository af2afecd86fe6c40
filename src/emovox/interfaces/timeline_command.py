"""``emovox timeline``: registered on the CLI's app when :mod:`emovox.interfaces.cli` imports it."""

from __future__ import annotations
