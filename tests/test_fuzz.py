"""Fuzzing, the fast subset: malformed audio and odd arguments end in a result or one
clear emovox error, never a traceback, a hang, a crash or runaway memory.

The full run (1000+ cases, 40 through the CLI) is ``python benchmarks/fuzz.py``; here a
deterministic slice of the same generator runs in worker processes (with 3 cases through
the CLI), the runner proves it reports each kind of failure, and Hypothesis drives
``load_audio`` in-process with arrays, bytes and keyword values it draws and shrinks.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emovox.audio import AudioWarning, load_audio
from emovox.errors import EmovoxError
from fuzz_inputs import (
    FAMILIES,
    MAGICS,
    PASSING,
    Worker,
    _check_signal,
    _clear_message,
    failures,
    generate_case,
    generate_cases,
    riff_wave,
    run_cases,
    selftest_case,
)

CI_SEED = 1  # the full run uses seed 0: the two cover different cases
CI_CASES = 120


def test_generated_cases_end_in_a_result_or_a_clear_error() -> None:
    results = run_cases(
        generate_cases(CI_CASES, seed=CI_SEED), cli_cases=3, timeout=30.0, cli_timeout=120.0
    )
    assert len({r.case for r in results}) == CI_CASES
    assert {r.target for r in results} == {"load_audio", "predict", "cli"}
    bad = failures(results)
    assert not bad, "\n".join(f"{r.case} {r.target} {r.outcome}: {r.detail}" for r in bad)
    outcomes = {r.outcome for r in results}
    assert outcomes == set(PASSING)  # both: the cases are neither all good nor all bad


def test_the_runner_reports_hangs_crashes_tracebacks_and_memory_and_goes_on() -> None:
    """Without this, a runner that missed failures would pass the test above."""
    worker = Worker(timeout=30.0, memory_mb=1024.0)
    after = generate_case(CI_SEED, 0)  # an ordinary case, run after each misbehaving one
    try:
        got = []
        for behaviour in ("hang", "crash", "raise", "oom"):
            got.append(worker.run(selftest_case(behaviour, timeout=3.0), "load_audio"))
            got.append(worker.run(after, "load_audio"))
    finally:
        worker.stop()
    assert [r.outcome for r in got[::2]] == ["hang", "crash", "traceback", "memory"]
    assert got[0].detail == "over 3 s"
    assert got[2].detail == "killed by SIGSEGV"
    assert got[4].detail.startswith("KeyError at fuzz_inputs.py:")
    assert all(r.passed for r in got[1::2]), got[1::2]
    assert worker.starts == 3  # a fresh worker after the hang and after the crash


def test_the_subset_covers_every_family() -> None:
    families = {generate_case(CI_SEED, i).family for i in range(CI_CASES)}
    assert families == set(FAMILIES)


def test_cases_are_deterministic_and_independent_of_the_count() -> None:
    for index in (0, 7, 42):
        a, b = generate_case(3, index), generate_cases(index + 1, seed=3)[index]
        assert (a.family, a.what, a.kind, a.data) == (b.family, b.what, b.kind, b.data)
        if isinstance(a.value, np.ndarray):
            np.testing.assert_array_equal(a.value, b.value)
    assert generate_case(3, 0).what != generate_case(4, 0).what


# --- Hypothesis: load_audio in-process ------------------------------------------------------

HYPOTHESIS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def settles(call) -> None:
    """``call()`` returns a signal scaled as audio or raises one clear emovox error; the
    only warnings are AudioWarnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            signal = call()
        except EmovoxError as exc:
            assert _clear_message(str(exc)), repr(str(exc))
        else:
            problem = _check_signal(signal, {})
            assert problem is None, problem
    others = [f"{w.category.__name__}: {w.message}" for w in caught]
    others = [w for w in others if not w.startswith(AudioWarning.__name__)]
    assert not others, others


DTYPES = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "bool",
    "complex128",
    "object",
]
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.fractions(),
    st.decimals(allow_nan=True),
    st.lists(st.integers(), max_size=2),
    st.just(np.float32(16000)),
    st.just(np.int64(8000)),
)


@st.composite
def arrays(draw) -> np.ndarray:
    """Arrays built with NumPy from drawn parameters (fast; Hypothesis shrinks those)."""
    dtype = draw(st.sampled_from(DTYPES))
    frames = draw(st.sampled_from([0, 1, 2, 100, 3999, 4000, 16000]))
    layout = draw(st.sampled_from(["1d", "frames-ch", "ch-frames", "0d", "3d", "square"]))
    channels = draw(st.integers(1, 20))
    shape = {
        "1d": (frames,),
        "frames-ch": (frames, channels),
        "ch-frames": (channels, frames),
        "0d": (),
        "3d": (2, channels, max(1, frames // 8)),
        "square": (channels + 10,) * 2,
    }[layout]
    scale = draw(st.sampled_from([0.0, 1e-6, 0.3, 1.0, 1.6, 100.0, 32767.0, 1e30]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.standard_normal(shape) * scale
    if draw(st.booleans()):
        values = np.round(values)
    if values.size and draw(st.integers(0, 4)) == 0:
        values.flat[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 1e300])
        )
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype.startswith(("int", "uint")):
            info = np.iinfo(dtype)
            values = np.nan_to_num(values, nan=0.0)
            return np.clip(values, info.min, info.max).astype(dtype)
        return np.asarray(values).astype(dtype)


@HYPOTHESIS
@given(array=arrays(), rate=st.one_of(st.sampled_from([8000, 16000, 44100]), ODD_VALUES))
def test_hypothesis_arrays(array: np.ndarray, rate: object) -> None:
    settles(lambda: load_audio(array, sample_rate=rate))


@HYPOTHESIS
@given(
    name=st.sampled_from(
        ["target_rate", "offset", "duration", "min_duration", "max_duration", "allow_silence"]
    ),
    value=ODD_VALUES,
    as_bytes=st.booleans(),
)
def test_hypothesis_keyword_values(name: str, value: object, as_bytes: bool) -> None:
    tone = (0.3 * np.sin(np.arange(16000) / 7)).astype(np.float32)
    if as_bytes:
        buffer = io.BytesIO()
        sf.write(buffer, tone, 16000, format="WAV")
        settles(lambda: load_audio(buffer.getvalue(), **{name: value}))
    else:
        settles(lambda: load_audio(tone, sample_rate=16000, **{name: value}))


@HYPOTHESIS
@given(
    magic=st.sampled_from(MAGICS),
    body=st.binary(max_size=3000),
    header=st.none()
    | st.fixed_dictionaries(
        {
            "rate": st.integers(0, 2**32 - 1),
            "channels": st.integers(0, 65535),
            "bits": st.integers(0, 65535),
            "tag": st.integers(0, 65535),
            "data_size": st.none() | st.integers(0, 2**32 - 1),
        }
    ),
)
def test_hypothesis_bytes(magic: bytes, body: bytes, header: dict | None) -> None:
    data = magic + body if header is None else riff_wave(payload=body, **header)
    settles(lambda: load_audio(data))
    settles(lambda: load_audio(data, max_duration=None, min_duration=0))
