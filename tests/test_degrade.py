"""Degradations used in robustness tests do what their names say."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_tone
from emovox.audio.degrade import (
    AUGMENTATIONS,
    ROBUSTNESS_CONDITIONS,
    AddNoise,
    Resampled,
    Reverb,
    Telephone,
)
from emovox.errors import EmovoxError


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0])
def test_noise_reaches_the_requested_snr(snr, color):
    clean = make_tone(duration=2.0)
    noisy = AddNoise(snr, color=color)(clean)
    measured = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert measured == pytest.approx(snr, abs=0.3)
    assert np.array_equal(noisy, AddNoise(snr, color=color)(clean)), "deterministic"


def test_pink_noise_has_more_power_low_than_high():
    silence = np.zeros(48_000, dtype=np.float32)
    silence[::100] = 1e-3  # a little power to set the noise level against
    power = {}
    for color in ("white", "pink"):
        noise = AddNoise(0, color=color)(silence) - silence
        spectrum = np.abs(np.fft.rfft(noise)) ** 2
        freqs = np.fft.rfftfreq(noise.size, 1 / 16_000)
        low = spectrum[(freqs > 100) & (freqs < 500)].mean()
        power[color] = low / spectrum[(freqs > 4000) & (freqs < 8000)].mean()
    assert power["white"] == pytest.approx(1.0, rel=0.2)
    assert power["pink"] > 10  # 1/f: about 6000 / 300 = 20 between these bands
    assert AddNoise(10, color="pink").key == "noise10dB-seed0-pink"
    with pytest.raises(EmovoxError, match="Noise color"):
        AddNoise(10, color="brown")


def test_augmentations_name_known_transforms():
    assert [t.key for t in AUGMENTATIONS["speed+light-noise"]] == [
        "speed0.9",
        "speed1.1",
        "noise20dB-seed3",
        "noise30dB-seed2",
    ]
    test_keys = {c.key for c in ROBUSTNESS_CONDITIONS.values()}
    assert not test_keys & {t.key for ts in AUGMENTATIONS.values() for t in ts}, (
        "no robustness test condition is also a training augmentation"
    )


def test_telephone_removes_energy_above_3400_hz():
    t = np.arange(16_000) / 16_000
    signal = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(
        np.float32
    )
    out = Telephone()(signal)
    spectrum = np.abs(np.fft.rfft(out))
    assert out.shape == signal.shape
    assert spectrum[6000] < 0.01 * spectrum[1000]


def test_resampling_round_trip_keeps_length_and_content():
    clean = make_tone(duration=1.0)
    out = Resampled(44_100)(clean)
    assert out.shape == clean.shape
    assert np.corrcoef(out, clean)[0, 1] > 0.99
    assert {AddNoise(5).key, Telephone().key, Resampled(48_000).key} == {
        "noise5dB-seed0",
        "telephone300-3400",
        "resampled48000",
    }


def test_trim_silence_cuts_quiet_edges_but_never_empties():
    from emovox.audio.trim import trim_silence

    tone = make_tone(duration=1.0)
    quiet = np.zeros(16_000, dtype=np.float32) + 1e-5
    padded = np.concatenate([quiet, tone, quiet])
    out = trim_silence(padded, top_db=30, margin=0.1)
    assert 1.0 <= out.size / 16_000 <= 1.25
    blip = np.concatenate([quiet, tone[:800], quiet])  # 50 ms of sound: too short to keep alone
    assert trim_silence(blip, top_db=30).size == blip.size


def test_reverb_adds_a_decaying_tail_at_the_asked_ratio():
    click = np.zeros(32_000, dtype=np.float32)
    click[1000] = 1.0
    wet = Reverb(0.5, drr_db=0.0)(click)
    energy = wet[1000:].astype(np.float64) ** 2
    assert 10 * np.log10(energy[0] / energy[1:].sum()) == pytest.approx(0.0, abs=0.1)
    assert energy[1:4000].sum() > 20 * energy[6000:].sum(), "the tail decays"
    assert np.abs(wet[:1000]).max() < 1e-6, "causal"
    speech = make_tone(duration=1.0)
    out = Reverb(0.5)(speech)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=1e-4)
