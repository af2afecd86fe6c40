"""What a feature extractor is, the registry of extractors, and rebuilding one from its config.

An extractor is a small object with a registry ``name``, a JSON-able :meth:`config` that
includes that name, and ``__call__(signal) -> features``: mono float32 at
:data:`emovox.audio.SAMPLE_RATE` in, float32 features out. ``make_extractor(e.config())``
rebuilds an extractor equal to ``e``; models store that config so that they extract at
prediction time exactly what they were trained on.

Built-in extractors are dataclasses derived from :class:`Extractor`; their fields are their
parameters. Other modules add theirs with :func:`register`, or with :func:`register_lazy`
so that a heavy module (torch, a model download) is imported only when its extractor is
asked for by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from emovox.errors import AudioError, EmovoxError, ParameterError


@runtime_checkable
class FeatureExtractor(Protocol):
    """What every extractor provides (the built-ins derive from :class:`Extractor`)."""

    name: str

    def config(self) -> dict[str, Any]: ...

    def __call__(self, signal: np.ndarray) -> np.ndarray: ...


class Extractor:
    """Base of the built-in extractors: config from dataclass fields, parameter coercion.

    Subclasses are ``@dataclass(frozen=True, kw_only=True)`` classes with a class-level
    ``name`` and ``__call__``. Ints given for float fields become floats (and whole floats
    for int fields become ints), so that a config read back from JSON hashes the same.
    Extractors that are not dataclasses override :meth:`config` instead.
    """

    name: ClassVar[str]

    def __post_init__(self) -> None:
        _coerce_fields(self)

    def config(self) -> dict[str, Any]:
        """The extractor's parameters, JSON-able, with its ``name``."""
        if not dataclasses.is_dataclass(self):
            raise NotImplementedError(f"{type(self).__name__} must define config().")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return {"name": self.name, **values}

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _coerce_fields(obj: Any) -> None:
    """Make numeric dataclass fields the type their annotation names; reject wrong types."""
    if not dataclasses.is_dataclass(obj):
        return
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        kind = field.type.__name__ if isinstance(field.type, type) else str(field.type)
        kind = kind.replace(" ", "")
        if value is None and kind.endswith("|None"):
            continue
        base = kind.removesuffix("|None")
        if base == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            object.__setattr__(obj, field.name, float(value))
        elif base == "int" and isinstance(value, float) and value.is_integer():
            object.__setattr__(obj, field.name, int(value))
        elif base == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise ParameterError(
                f"Parameter '{field.name}' of extractor '{type(obj).name}' must be a whole "
                f"number, got {value!r}."
            )
        elif base == "float" and not isinstance(value, (int, float)):
            raise ParameterError(
                f"Parameter '{field.name}' of extractor '{type(obj).name}' must be a number, "
                f"got {value!r}."
            )


def require_positive(extractor: Any, **values: float) -> None:
    """Raise :class:`EmovoxError` naming the first parameter that is not > 0."""
    for key, value in values.items():
        if not value > 0:
            raise ParameterError(
                f"Parameter '{key}' of extractor '{extractor.name}' must be positive, "
                f"got {value!r}."
            )


def as_signal(signal: np.ndarray) -> np.ndarray:
    """Check that ``signal`` is a non-empty, finite 1-D array and return it as float32."""
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise AudioError(
            f"Feature extractors take a mono 1-D signal, got shape {signal.shape}; "
            "load it with emovox.load_audio first."
        )
    if signal.size == 0:
        raise AudioError("The signal given to the feature extractor is empty.")
    if not np.all(np.isfinite(signal)):
        raise AudioError("The signal given to the feature extractor contains NaN or inf.")
    return signal


# ---------------------------------------------------------------- registry

EXTRACTORS: dict[str, type] = {}
"""Registered extractor classes by name. Add to it with :func:`register`."""

LAZY_EXTRACTORS: dict[str, str] = {}
"""Extractor name -> module that registers it when imported (see :func:`register_lazy`)."""

E = TypeVar("E", bound=type)


def register(cls: E) -> E:
    """Class decorator adding an extractor class to :data:`EXTRACTORS` under ``cls.name``.

    Registering a second, different class under a taken name raises :class:`EmovoxError`;
    registering the same class again (a module reloaded) replaces it quietly.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise EmovoxError(f"Extractor class {cls.__qualname__} needs a class attribute 'name'.")
    known = EXTRACTORS.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise EmovoxError(
            f"An extractor named '{name}' is already registered ({known.__module__}."
            f"{known.__qualname__}); pick another name for {cls.__module__}.{cls.__qualname__}."
        )
    EXTRACTORS[name] = cls
    return cls


def register_lazy(name: str, module: str) -> None:
    """Declare that importing ``module`` registers extractor ``name``; it is imported on demand.

    Use it for extractors with heavy imports (torch, transformers), e.g.
    ``register_lazy("whisper", "emovox.features.whisper")``.
    """
    LAZY_EXTRACTORS[name] = module


def available_extractors() -> list[str]:
    """Names :func:`make_extractor` knows, registered or lazily registered, sorted."""
    return sorted(set(EXTRACTORS) | set(LAZY_EXTRACTORS))


def extractor_class(name: str) -> type:
    """The class registered as ``name``, importing its module first if it is lazy."""
    if name not in EXTRACTORS and name in LAZY_EXTRACTORS:
        module = LAZY_EXTRACTORS[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EmovoxError(
                f"Feature extractor '{name}' lives in {module}, which cannot be imported "
                f"({exc}). Is an optional dependency missing?"
            ) from exc
        if name not in EXTRACTORS:
            raise EmovoxError(f"Importing {module} did not register extractor '{name}'.")
    try:
        return EXTRACTORS[name]
    except KeyError:
        raise ParameterError(
            f"Unknown feature extractor '{name}'; known ones are: "
            f"{', '.join(available_extractors())}."
        ) from None


def make_extractor(config: dict[str, Any]) -> FeatureExtractor:
    """Build the extractor that ``config`` (as returned by ``config()``) describes."""
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise ParameterError(
            f"An extractor config is a dict with a 'name' key, e.g. {{'name': 'mfcc_image'}}; "
            f"got {config!r}."
        )
    params = dict(config)
    name = params.pop("name")
    cls = extractor_class(name)
    if dataclasses.is_dataclass(cls):
        accepted = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ParameterError(
                f"Unknown parameter(s) {', '.join(unknown)} for extractor '{name}'; "
                f"it accepts: {', '.join(sorted(accepted)) or 'none'}."
            )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ParameterError(f"Bad parameters for extractor '{name}': {exc}.") from exc


# ---------------------------------------------------------------- config identity


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same config always gives the same text."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"Extractor config is not JSON-able ({exc}): {value!r}.") from exc


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``config``."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()
