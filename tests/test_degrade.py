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
    SpeedPerturb,
    Telephone,
    conditions_seen_in_training,
    same_but_seed,
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


def test_test_conditions_seen_in_training_are_named_and_drawn_afresh():
    """A test condition may share a training augmentation's distribution (white noise at
    20 dB), but then it is named as such, and its noise is another draw, not a copy."""
    assert same_but_seed(AddNoise(20), AddNoise(20, seed=3))
    assert not same_but_seed(AddNoise(20), AddNoise(20, color="pink"))
    assert not same_but_seed(AddNoise(20), AddNoise(30, seed=0))
    assert not same_but_seed(SpeedPerturb(0.9), Resampled(16_000))
    assert conditions_seen_in_training("speed+light-noise") == ["noise 20 dB SNR"]
    for augment in (None, "speed", "noise", "speed+noise", "speed-wide"):
        assert conditions_seen_in_training(augment) == [], augment
    with pytest.raises(EmovoxError, match="Unknown augmentation"):
        conditions_seen_in_training("everything")
    # No condition is the same draw as any augmentation: keys differ, and where two noises
    # share SNR and colour, the noise added to the same signal is uncorrelated.
    clean = make_tone(duration=2.0)
    augmentations = [t for ts in AUGMENTATIONS.values() for t in ts]
    for name, condition in ROBUSTNESS_CONDITIONS.items():
        for t in augmentations:
            assert condition.key != t.key, name
            if same_but_seed(condition, t):
                a, b = condition(clean) - clean, t(clean) - clean
                assert abs(np.corrcoef(a, b)[0, 1]) < 0.05, (name, t.key)
    assert abs(np.corrcoef(AddNoise(20)(clean), AddNoise(20, seed=0)(clean))[0, 1]) == 1.0


def test_telephone_removes_energy_above_3400_hz():
    t = np.arange(16_000) / 16_000
    signal = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(
        np.float32
    )
    out = Telephone()(signal)
    spectrum = np.abs(np.fft.rfft(out))
    assert out.shape == signal.shape
    assert spectrum[6000] < 0.01 * spectrum[1000]


def test_resampling_round_trip_keeps_length_and_band_limits_to_the_rate():
    clean = make_tone(duration=1.0)
    out = Resampled(44_100)(clean)
    assert out.shape == clean.shape
    assert np.corrcoef(out, clean)[0, 1] > 0.99
    t = np.arange(16_000) / 16_000
    two_tones = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(
        np.float32
    )
    for rate, keeps_6k in ((8_000, False), (44_100, True)):
        out = Resampled(rate)(two_tones)
        spectrum = np.abs(np.fft.rfft(out))  # 1 Hz per bin
        assert out.shape == two_tones.shape and out.dtype == np.float32
        assert spectrum[1000] > 0.9 * np.abs(np.fft.rfft(two_tones))[1000]
        assert bool(spectrum[6000] > 0.5 * spectrum[1000]) == keeps_6k, rate
    assert {AddNoise(5).key, Telephone().key, Resampled(48_000).key} == {
        "noise5dB-seed0",
        "telephone300-3400",
        "resampled48000",
    }


def test_speed_perturbation_changes_tempo_and_pitch_together():
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    for factor in (0.9, 1.1):
        out = SpeedPerturb(factor)(tone)
        assert out.size == pytest.approx(tone.size / factor, abs=2)
        freqs = np.fft.rfftfreq(out.size, 1 / 16_000)
        peak = freqs[np.argmax(np.abs(np.fft.rfft(out * np.hanning(out.size))))]
        assert peak == pytest.approx(1000 * factor, abs=3)
    assert [SpeedPerturb(0.9).key, SpeedPerturb(1.1).key] == ["speed0.9", "speed1.1"]


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
