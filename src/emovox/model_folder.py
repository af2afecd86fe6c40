"""The model folder: what a saved recognizer is on disk, and the checks made on reading it.

::

    emovox.json      format, labels, the exact feature configuration, sample rate,
                     training data, encoder weights' sha256, metrics, version
    model/           the fitted model (skops for scikit-learn, safetensors + JSON for
                     torch; see :mod:`emovox.models.io`), with its payload's sha256
    head.safetensors, head.json
                     the model folded into one linear layer, when it is linear (optional;
                     :mod:`emovox.linear_head`), recording the sha256 of the model it
                     was folded from
    adapted/         the speaker-adapted head, the training mean and the shrinkage
                     (optional; :mod:`emovox.adaptation`)

Nothing here executes code on load. A folder is written into a staging folder beside its
destination and moved into place (:mod:`emovox.output`), so that a failed write never
leaves a mixture of two models.
"""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emovox import __version__
from emovox.audio import SAMPLE_RATE
from emovox.errors import ModelError
from emovox.output import check_output_folder, replace_folder_contents, staging_folder

if TYPE_CHECKING:
    from emovox.linear_head import LinearHead

FORMAT = "emovox-model"
FORMAT_VERSION = 1
METADATA_FILE = "emovox.json"
MODEL_DIR = "model"
OWNED = (METADATA_FILE, MODEL_DIR, "head.safetensors", "head.json", "adapted")
"""The entries a model folder consists of (replaced together by a save with force)."""


def default_model_path() -> Path:
    """The folder of the model bundled with the package (it may be absent in a dev checkout)."""
    return Path(str(resources.files("emovox") / "default_model"))


def read_metadata(folder: Path, *, bundled: bool = False) -> dict[str, Any]:
    """The checked contents of ``folder/emovox.json``; :class:`ModelError` if unusable."""
    meta_file = folder / METADATA_FILE
    if not meta_file.is_file():
        if bundled:
            raise ModelError(
                "No default model is bundled with this installation. Train one with "
                "`emovox train` and pass it with --model."
            )
        raise ModelError(f"'{folder}' is not an emovox model folder (no {METADATA_FILE}).")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"'{meta_file}' is not valid JSON ({exc}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"Cannot read '{meta_file}' ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"'{meta_file}' does not describe an emovox model.")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(
            f"'{folder}' was saved by a newer emovox (format {version}); upgrade emovox to load it."
        )
    if not isinstance(meta.get("labels"), list) or not isinstance(meta.get("features"), dict):
        raise ModelError(f"'{meta_file}' lacks its labels or feature configuration.")
    return meta


def model_sha256(folder: Path) -> str | None:
    """The payload checksum that ``folder/model/model.json`` records (read without hashing)."""
    try:
        return json.loads((folder / MODEL_DIR / "model.json").read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def saved_head(folder: Path) -> LinearHead | None:
    """The folded head saved beside the model, if present and saved from the model there."""
    from emovox import linear_head

    if not (folder / linear_head.DESCRIPTION_FILE).is_file():
        return None
    description = linear_head.read_description(folder)
    recorded = (description.get("source") or {}).get("model_sha256")
    if recorded is None or recorded != model_sha256(folder):
        return None  # saved from another model: fold the model itself
    return linear_head.LinearHead.load(folder)


def check_encoder_weights(folder: Path, meta: dict[str, Any]) -> None:
    """Refuse to pair a model with encoder weights other than those it was trained on."""
    recorded = (meta.get("encoder_weights") or {}).get("sha256")
    if recorded is None:
        return
    from emovox.features import make_extractor

    found = make_extractor(meta["features"]).weights_info()
    if found["sha256"] != recorded:
        raise ModelError(
            f"'{folder}' was trained on encoder weights with sha256 {recorded[:12]}..., but "
            f"the weights found now ({found['source']}) have {found['sha256'][:12]}...; "
            "unset $EMOVOX_WHISPER_MODEL or give the weights the model was trained on."
        )


def metadata_for_save(labels: list[str], features: dict, metadata: dict) -> dict[str, Any]:
    """The JSON written as ``emovox.json``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "emovox_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sample_rate": SAMPLE_RATE,
        "labels": list(labels),
        "features": features,
        **{k: v for k, v in metadata.items() if k not in {"labels", "features"}},
    }


def write_model_folder(
    path: str | Path,
    *,
    labels: list[str],
    features: dict,
    model: Any,
    metadata: dict,
    source: Path | None = None,
    force: bool = False,
    adaptation: Any = None,
) -> Path:
    """Write a model folder at ``path``; returns it.

    ``model`` is a fitted estimator, or a :class:`~emovox.linear_head.LinearHead` loaded on
    the fast path, whose fitted model files are then copied from ``source``. An existing
    non-empty folder is refused unless ``force`` (then only a model's own entries are
    replaced). Written to a staging folder first and moved into place.
    """
    path = Path(path).expanduser()
    check_output_folder(path, force=force, owned=OWNED, what="model")
    staged = staging_folder(path)
    try:
        _write_model(staged / MODEL_DIR, model, source)
        _write_head(staged, model, features)
        if adaptation is not None:
            adaptation.save(staged)
        meta = metadata_for_save(labels, features, metadata)
        (staged / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if path.is_dir():
            for name in OWNED:  # never leave another model's head beside this one
                if (path / name).exists() and not (staged / name).exists():
                    if (path / name).is_dir():
                        shutil.rmtree(path / name)
                    else:
                        (path / name).unlink()
        return replace_folder_contents(staged, path)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)


def _write_model(target: Path, model: Any, source: Path | None) -> None:
    from emovox.linear_head import LinearHead

    if not isinstance(model, LinearHead):
        from emovox.models import save_model

        save_model(model, target)
        return
    # Loaded on the fast path: the fitted model was never read; copy its files.
    files = None if source is None else source / MODEL_DIR
    if files is None or not files.is_dir():
        raise ModelError(
            "This recognizer holds only its folded linear head; load it with "
            "Recognizer.load(path, fast=False) to save it elsewhere."
        )
    shutil.copytree(files, target)


def _write_head(folder: Path, model: Any, features: dict) -> None:
    from emovox import linear_head

    if features.get("name") != "whisper":
        return
    head = (
        model if isinstance(model, linear_head.LinearHead) else linear_head.collapse_linear(model)
    )
    if head is not None:
        source = {"model_sha256": model_sha256(folder), "class": type(model).__name__}
        head.save(folder, source=source)
