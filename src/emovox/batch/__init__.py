"""Whole folders, resumably: one row per audio file, written as it goes, over processes.

:func:`predict_folder` (``emovox predict DIR|MANIFEST.csv --out results.csv``) is the local
runner; the pieces it is built from are plain functions so that other runners (Dask) can
call the same ones:

* :mod:`~emovox.batch.inputs`: a folder, a manifest or files -> one ordered list of paths;
* :mod:`~emovox.batch.work`: :func:`predict_batch`, paths -> rows, the model loaded once
  per process;
* :mod:`~emovox.batch.rows`: the row shape (``results_frame`` columns plus ``model``);
* :mod:`~emovox.batch.writer`: CSV or Parquet output that a kill leaves whole and a rerun
  resumes, each file exactly once;
* :mod:`~emovox.batch.runner`: the local runner over worker processes;
* :mod:`~emovox.batch.dask_batch`: :func:`predict_archive` (``emovox batch``), the same
  work on a Dask cluster, from folders, globs or manifests at any fsspec URL
  (:mod:`~emovox.batch.sources`) into a partitioned Parquet dataset
  (:mod:`~emovox.batch.dataset`; timelines: :mod:`~emovox.batch.segments`). Dask is
  imported only when it runs (the ``dask`` extra).
"""

from __future__ import annotations

from emovox.batch.dask_batch import DaskBatchSummary, predict_archive
from emovox.batch.inputs import AUDIO_SUFFIXES, list_inputs
from emovox.batch.rows import columns
from emovox.batch.runner import BatchSummary, predict_folder
from emovox.batch.sources import list_sources
from emovox.batch.work import predict_batch, recognizer_for
from emovox.batch.writer import open_output

__all__ = [
    "AUDIO_SUFFIXES",
    "BatchSummary",
    "DaskBatchSummary",
    "columns",
    "list_inputs",
    "list_sources",
    "open_output",
    "predict_archive",
    "predict_batch",
    "predict_folder",
    "recognizer_for",
]
