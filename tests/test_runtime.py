"""The process-wide runtime: objects loaded once under concurrency, torch's thread count."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from emovox.errors import ParameterError
from emovox.runtime import Runtime, runtime


@pytest.fixture
def torch_count():
    """Run with torch at 3 threads (a count no section below asks for); restore after."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def fresh_thread_count() -> int:
    """What a thread started now gets: torch's process-wide count, not this thread's own."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


# ---------------------------------------------------------------- shared objects


def test_shared_loads_once_for_concurrent_callers() -> None:
    rt, calls = Runtime(), []

    def load() -> object:
        calls.append(threading.get_ident())
        time.sleep(0.2)  # long enough that every caller arrives while it loads
        return object()

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: rt.shared(("model", "a"), load), range(8)))
    assert len(calls) == 1
    assert all(item is got[0] for item in got)
    assert rt.keys() == [("model", "a")]


def test_different_keys_load_in_parallel() -> None:
    rt = Runtime()
    both_loading = threading.Barrier(2, timeout=5)

    def load(name: str):
        def run() -> str:
            both_loading.wait()  # raises BrokenBarrierError if the loads were serialised
            return name

        return run

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(rt.shared, ("model", "a"), load("a"))
        b = pool.submit(rt.shared, ("model", "b"), load("b"))
        assert (a.result(), b.result()) == ("a", "b")


def test_a_failed_load_is_not_kept() -> None:
    rt, attempts = Runtime(), []

    def load() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk hiccup")
        return "loaded"

    with pytest.raises(OSError, match="disk hiccup"):
        rt.shared(("model", "a"), load)
    assert rt.keys() == []
    assert rt.shared(("model", "a"), load) == "loaded" and len(attempts) == 2


def test_clear_forgets_one_kind_or_all() -> None:
    rt = Runtime()
    rt.shared(("whisper-torch", "x"), lambda: 1)
    rt.shared(("whisper-onnx", "x", 1), lambda: 2)
    rt.clear("whisper-torch")
    assert rt.keys() == [("whisper-onnx", "x", 1)]
    assert rt.shared(("whisper-torch", "x"), lambda: 3) == 3  # loaded anew
    rt.clear()
    assert rt.keys() == []


def test_runtime_is_one_object_per_process() -> None:
    assert runtime() is runtime()


# ---------------------------------------------------------------- torch threads


def test_sections_with_different_counts_take_turns(torch_count: int) -> None:
    """Interleaved sections used to restore each other's counts: one was left set after.

    Unserialised, the second section would enter while the first runs, record the first's
    count as "previous", leave last and restore that.
    """
    rt = Runtime()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    inside: set[str] = set()
    seen: dict[str, object] = {}

    def first() -> None:
        with rt.torch_threads(1):
            inside.add("first")
            first_in.set()
            second_in.wait(timeout=0.5)  # an unserialised second section enters meanwhile
            seen["first, at its end"] = torch.get_num_threads()
            inside.discard("first")
        first_out.set()

    def second() -> None:
        first_in.wait(timeout=5)
        with rt.torch_threads(2):
            seen["first still inside"] = "first" in inside
            second_in.set()
            first_out.wait(timeout=5)  # leave last
            seen["second"] = torch.get_num_threads()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"first, at its end": 1, "first still inside": False, "second": 2}
    assert torch.get_num_threads() == torch_count
    assert fresh_thread_count() == torch_count


def test_sections_with_the_same_count_run_together(torch_count: int) -> None:
    rt = Runtime()
    inside = threading.Barrier(4, timeout=5)  # broken if the sections were serialised
    counts = []

    def section() -> None:
        with rt.torch_threads(1):
            inside.wait()
            counts.append(torch.get_num_threads())

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(section) for _ in range(4)]:
            future.result()
    assert counts == [1, 1, 1, 1]
    assert torch.get_num_threads() == torch_count
    assert fresh_thread_count() == torch_count


def test_nested_section_keeps_the_outer_count_and_does_not_deadlock(torch_count: int) -> None:
    rt = Runtime()
    with rt.torch_threads(1):
        with rt.torch_threads(2):
            assert torch.get_num_threads() == 1
        with rt.torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == torch_count


def test_none_leaves_the_count_alone(torch_count: int) -> None:
    rt = Runtime()
    with rt.torch_threads(None):
        assert torch.get_num_threads() == torch_count


def test_an_exception_still_restores_the_count(torch_count: int) -> None:
    rt = Runtime()
    with pytest.raises(RuntimeError), rt.torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == torch_count
    with rt.torch_threads(2):  # and the next section is not blocked
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(threads: object) -> None:
    with pytest.raises(ParameterError, match="threads"), Runtime().torch_threads(threads):
        pass
