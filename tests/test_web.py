"""The web page, as a person uses it: headless Chromium (Debian's, driven by Playwright)
against the real HTTP server on loopback, with a fake microphone fed from a speech WAV.

Skipped with a reason where /usr/bin/chromium, Playwright or the HTTP API are missing.
Screenshots of each run are kept in the test's tmp_path (printed with ``-s``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import buzz, quiet

CHROMIUM = os.environ.get("EMOVOX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
RAVDESS_CLIP = "Actor_01/03-01-05-02-01-01-01.flac"  # angry, strong, "Kids are talking by the door"
SR = 16_000

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    try:
        import uvicorn  # noqa: F401

        from emovox.interfaces.http import create_app  # noqa: F401
    except ImportError as exc:
        return f"the HTTP API cannot be imported: {exc}"
    return None


if reason := _missing():
    pytest.skip(reason, allow_module_level=True)

import uvicorn  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from emovox.interfaces.http import Settings, create_app  # noqa: E402


# -- audio ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """A real speech clip as 16-bit WAV (Chromium's fake microphone reads WAV only):
    a RAVDESS clip when the corpus is there, else the pulsed harmonic buzz that reads as speech.
    Padded with a little silence so the looping fake microphone has gaps like speech."""
    from conftest import find_data_root

    root = find_data_root()
    clip = root / "ravdess" / RAVDESS_CLIP if root else None
    if clip is not None and clip.is_file():
        signal, sr = sf.read(clip, dtype="float32", always_2d=True)
        signal = signal.mean(axis=1)
    else:
        signal, sr = buzz(3.0), SR
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, signal, sr, subtype="PCM_16")
    return path


# -- server --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, app) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready within 120 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=60) as r:
            return json.loads(r.read())

    def post_file(self, path: str, data: bytes, name: str, *, key: str | None = None):
        """POST one multipart field ``file``: (status, JSON body)."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def server():
    with Server(create_app()) as running:
        yield running


@pytest.fixture(scope="module")
def labels(server) -> list[str]:
    models = server.get("/v1/models")
    default = next((m for m in models if m.get("default")), models[0])
    return list(default["labels"])


# -- browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(speech_wav):
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={speech_wav}",
                "--no-sandbox",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def shown_probabilities(page) -> dict[str, float]:
    """The bar chart as the page shows it: class -> percent (from the text, not the data)."""
    rows = page.locator("#bars .bar-row")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        name = row.locator(".bar-name").inner_text().strip().lower()
        value = row.locator(".bar-value").inner_text().strip()
        assert value.endswith("%"), value
        shown[name] = float(value[:-1])
    return shown


def check_prediction(page, labels: list[str]) -> dict[str, float]:
    result = page.locator("#result")
    expect(result).to_be_visible(timeout=120_000)
    expect(page.locator("#error")).to_be_hidden()
    label = page.locator("#label").inner_text().strip().lower()
    assert label in labels
    assert page.locator("#confidence").inner_text().endswith("% confident")
    shown = shown_probabilities(page)
    assert sorted(shown) == sorted(labels)  # every class, once
    assert max(shown, key=shown.get) == label
    assert 95 <= sum(shown.values()) <= 105  # rounded percentages of a distribution
    return shown


# -- tests ---------------------------------------------------------------------------------
def test_record_from_the_microphone_shows_a_prediction(page, labels, tmp_path):
    record, stop = (
        page.get_by_role("button", name="Record"),
        page.get_by_role("button", name="Stop"),
    )
    expect(stop).to_be_disabled()
    record.click()
    expect(stop).to_be_enabled()
    expect(record).to_be_disabled()
    levels = []
    for _ in range(40):  # 4 s of recording, watching the level meter
        page.wait_for_timeout(100)
        levels.append(page.evaluate("parseFloat(document.getElementById('level').style.width)"))
    assert page.locator("#timer").inner_text() in {"0:03", "0:04", "0:05"}
    # The meter moved: the fake microphone's speech came through Web Audio.
    assert max(levels) > 30
    stop.click()
    check_prediction(page, labels)
    expect(record).to_be_enabled()
    meta = page.locator("#meta").inner_text()
    assert meta.startswith("recording.wav")
    seconds = float(meta.split("·")[1].strip().removesuffix(" s"))  # as the server measured it
    assert 3.0 <= seconds <= 6.0
    shot(page, tmp_path, "recorded")


def test_choosing_a_file_shows_the_servers_answer(page, server, labels, speech_wav, tmp_path):
    status, expected = server.post_file("/v1/predict", speech_wav.read_bytes(), "speech.wav")
    assert status == 200, expected
    page.locator("#file").set_input_files(str(speech_wav))
    shown = check_prediction(page, labels)
    assert page.locator("#label").inner_text().strip().lower() == expected["label"].lower()
    for name, p in expected["probabilities"].items():
        assert shown[name.lower()] == pytest.approx(100 * p, abs=0.51)
    assert "speech.wav" in page.locator("#meta").inner_text()
    shot(page, tmp_path, "file")


def test_a_text_file_gets_a_readable_error(page, server, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 20)
    status, expected = server.post_file("/v1/predict", text.read_bytes(), "notes.txt")
    assert 400 <= status < 500
    page.locator("#file").set_input_files(str(text))
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=60_000)
    expect(error).to_contain_text(expected["error"]["message"])
    expect(error).to_contain_text(expected["error"]["code"])
    expect(page.locator("#result")).to_be_hidden()
    shot(page, tmp_path, "error")


def test_an_error_after_a_result_replaces_it(page, labels, speech_wav, tmp_path):
    page.locator("#file").set_input_files(str(speech_wav))
    check_prediction(page, labels)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    page.locator("#file").set_input_files(str(empty))
    expect(page.locator("#error")).to_be_visible(timeout=60_000)
    expect(page.locator("#result")).to_be_hidden()  # no stale answer beside the error


def test_silence_shows_the_servers_no_speech_warning(page, server, labels, tmp_path):
    path = tmp_path / "room.wav"
    sf.write(path, quiet(3.0, level=0.003), SR, subtype="PCM_16")
    status, expected = server.post_file("/v1/predict", path.read_bytes(), "room.wav")
    assert status == 200 and expected["speech"] is False and expected["warnings"], expected
    page.locator("#file").set_input_files(str(path))
    check_prediction(page, labels)
    warnings = page.locator("#warnings li")
    assert warnings.all_inner_texts() == expected["warnings"]


def test_the_api_key_field_is_sent_and_kept_for_the_tab(browser, speech_wav, labels):
    with Server(create_app(settings=Settings(api_key="s3cret-key"))) as locked:
        context = browser.new_context()
        page = context.new_page()
        page.goto(locked.url + "/")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.locator("#file").set_input_files(str(speech_wav))
        error = page.locator("#error")
        expect(error).to_be_visible(timeout=60_000)
        expect(error).to_contain_text("API key")
        expect(error).to_contain_text("unauthorized")

        page.get_by_text("API key", exact=True).click()  # open the <details>
        page.get_by_label("Key, if this server needs one").fill("s3cret-key")
        page.get_by_label("Key, if this server needs one").press("Tab")  # "change" stores it
        page.locator("#file").set_input_files(str(speech_wav))
        check_prediction(page, labels)

        page.reload()  # same tab: the key is still there
        expect(page.get_by_label("Key, if this server needs one")).to_have_value("s3cret-key")
        context.close()


def test_long_audio_is_drawn_as_a_timeline(page, server, labels, speech_wav, tmp_path):
    signal, sr = sf.read(speech_wav, dtype="float32")
    gap = np.zeros(int(0.5 * sr), dtype=np.float32)
    long = np.concatenate(
        [np.concatenate([signal, gap])] * int(np.ceil(34 / (len(signal) / sr + 0.5)))
    )
    path = tmp_path / "long.wav"
    sf.write(path, long, sr, subtype="PCM_16")
    assert len(long) / sr > 30

    status, expected = server.post_file("/v1/timeline", path.read_bytes(), "long.wav")
    assert status == 200, expected
    page.locator("#file").set_input_files(str(path))
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible(timeout=180_000)
    blocks = page.locator("#timeline-chart svg rect.block")
    assert blocks.count() == len(expected["rows"]) > 1
    for i, row in enumerate(expected["rows"]):
        block = blocks.nth(i)
        assert block.get_attribute("data-label") == row["label"]
        assert block.locator("title").text_content().startswith(row["label"])
    assert sorted(shown_probabilities(page)) == sorted(labels)
    assert page.locator("#summary p").count() == len(expected["summary"])
    shot(page, tmp_path, "timeline")


def test_keyboard_alone_starts_and_stops_a_recording(page, labels):
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "record"
    page.keyboard.press("Enter")
    expect(page.locator("#stop")).to_be_enabled()
    assert page.evaluate("document.activeElement.id") == "stop"
    page.wait_for_timeout(2500)
    page.keyboard.press("Enter")
    check_prediction(page, labels)


def test_the_page_fits_a_phone(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(server.url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for name in ("Record", "Stop"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box["height"] >= 40 and box["x"] + box["width"] <= 375
    shot(page, tmp_path, "phone")
    context.close()
