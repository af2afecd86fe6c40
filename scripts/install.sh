#!/usr/bin/env bash
# Install emovox and its extras into ./.venv (torch 2.13.0 CPU first, so pip never pulls a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,record,egemaps,whisper,whisper-tiny,parquet,dask]"
echo "emovox installed in .venv: activate it with  . .venv/bin/activate"
