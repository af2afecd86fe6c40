"""Degradations used in robustness tests do what their names say."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_tone
from emovox.audio.degrade import (
    AUGMENTATIONS,
    ROBUSTNESS_CONDITIONS,
    AddNoise,
    Babble,
    Clipping,
    Codec,
    Gain,
    Resampled,
    Reverb,
    ShoeboxRooms,
    SpeedPerturb,
    Telephone,
    babble_talkers,
    conditions_seen_in_training,
    same_but_seed,
    same_kind,
    training_match,
    unseen_conditions,
)
from emovox.errors import EmovoxError, ParameterError


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


# ---------------------------------------------------------------- conditions no augmentation uses

TALKER_HZ = (300, 500, 700, 900, 1100, 1300, 1500, 1700)


@pytest.fixture(scope="module")
def tone_talkers(tmp_path_factory):
    """Eight fake babble talkers, each two 1-2 s utterances of a pure tone of its own
    frequency (so which talkers are in a mix can be read off the spectrum)."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("talkers")
    talkers = []
    for k, hz in enumerate(TALKER_HZ):
        paths = []
        for u, seconds in enumerate((1.0, 1.7)):
            t = np.arange(int(16_000 * seconds)) / 16_000
            path = folder / f"talker{k}_utt{u}.flac"
            sf.write(path, (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16_000)
            paths.append(str(path))
        talkers.append(tuple(paths))
    return tuple(talkers)


def talkers_heard(mix: np.ndarray) -> set[int]:
    spectrum = np.abs(np.fft.rfft(mix * np.hanning(mix.size)))
    freqs = np.fft.rfftfreq(mix.size, 1 / 16_000)
    level = {hz: spectrum[np.abs(freqs - hz) < 5].max() for hz in TALKER_HZ}
    loudest = max(level.values())
    return {k for k, hz in enumerate(TALKER_HZ) if level[hz] > 0.1 * loudest}


@pytest.mark.parametrize("snr", [10.0, 5.0, 0.0])
def test_babble_mixes_the_asked_number_of_talkers_at_the_asked_snr(tone_talkers, snr):
    clean = make_tone(duration=3.0, freq=110.0)
    babble = Babble(tone_talkers, snr, n_talkers=3)
    noisy = babble(clean)
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    added = noisy.astype(np.float64) - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(added**2))
    assert measured == pytest.approx(snr, abs=0.05)
    assert np.array_equal(noisy, Babble(tone_talkers, snr, n_talkers=3)(clean)), "deterministic"
    assert len(talkers_heard(added)) == 3
    # each talker's stream covers the whole clip (looped), none drowns the others
    for quarter in np.array_split(added, 4):
        assert len(talkers_heard(quarter)) == 3


def test_babble_draws_other_talkers_with_another_seed_or_clip_length(tone_talkers):
    clean = make_tone(duration=3.0, freq=110.0)
    heard = {
        seed: talkers_heard(Babble(tone_talkers, 10, n_talkers=2, seed=seed)(clean) - clean)
        for seed in range(6)
    }
    assert all(len(h) == 2 for h in heard.values())
    assert len({frozenset(h) for h in heard.values()}) > 1, "the seed chooses the talkers"
    shorter = clean[:40_000]
    a = Babble(tone_talkers, 10, seed=0)(clean)[:40_000] - shorter
    b = Babble(tone_talkers, 10, seed=0)(shorter) - shorter
    assert not np.allclose(a, b), "each clip length gets its own draw"


def test_babble_keys_name_talkers_level_and_seed(tone_talkers):
    base = Babble(tone_talkers, 10)
    assert base.key.startswith("babble5of8-10dB-") and base.key.endswith("-seed0")
    others = [
        Babble(tone_talkers, 5),
        Babble(tone_talkers, 10, seed=1),
        Babble(tone_talkers, 10, n_talkers=4),
        Babble(tone_talkers[:7], 10),
        Babble((tone_talkers[0][::-1], *tone_talkers[1:]), 10),
    ]
    keys = {base.key, *(b.key for b in others)}
    assert len(keys) == 1 + len(others)
    # paths enter the key by file name, so a moved data folder keeps its cache
    moved = tuple(tuple(p.replace("/talkers", "/elsewhere") for p in g) for g in tone_talkers)
    assert Babble(moved, 10).key == base.key
    assert Babble([list(g) for g in tone_talkers], 10) == base, "lists are kept as tuples"
    with pytest.raises(ParameterError, match="n_talkers"):
        Babble(tone_talkers, 10, n_talkers=9)
    with pytest.raises(ParameterError, match="at least one"):
        Babble((*tone_talkers, ()), 10)
    with pytest.raises(ParameterError, match="tuple of tuples"):
        Babble("one.flac", 10)


def test_babble_talkers_groups_paths_by_speaker():
    rows = [("b", "b2.flac"), ("a", "a1.flac"), ("b", "b1.flac"), ("a", "a2.flac")]
    assert babble_talkers(rows) == (("a1.flac", "a2.flac"), ("b1.flac", "b2.flac"))
    many = [("s", f"{i:02d}.flac") for i in range(20)]
    (chosen,) = babble_talkers(many, per_talker=5, seed=3)
    assert len(chosen) == 5 and list(chosen) == sorted(chosen)
    assert babble_talkers(many, per_talker=5, seed=3) == ((*chosen,),)
    assert babble_talkers(many, per_talker=5, seed=4) != ((*chosen,),)
    with pytest.raises(ParameterError):
        babble_talkers([])


def lag_of(out: np.ndarray, signal: np.ndarray) -> int:
    n = 2 * signal.size
    xcorr = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(signal, n)), n)
    lag = int(np.argmax(xcorr))
    return lag if lag < signal.size else lag - n


@pytest.mark.parametrize("codec", ["opus", "mp3"])
@pytest.mark.parametrize("kbps", [16, 24])
def test_codec_round_trip_is_lossy_aligned_and_near_the_bitrate(codec, kbps):
    clean = make_tone(duration=4.0)
    transform = Codec(codec, kbps)
    out = transform(clean)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert lag_of(out, clean) == 0, "the codec's delay is removed"
    assert np.corrcoef(out, clean)[0, 1] > 0.95
    error = np.mean((out - clean) ** 2) / np.mean(clean**2)
    assert 1e-4 < error < 0.1, "changed, as a lossy codec does"
    assert np.array_equal(out, transform(clean)), "deterministic"
    measured = len(transform.encode(clean)) * 8 / 4.0 / 1000  # kbps from the bytes written
    if codec == "mp3":  # constant bitrate: frames plus a small header
        assert measured == pytest.approx(kbps, rel=0.05)
    else:  # variable bitrate, on a signal without pauses
        assert 0.8 * kbps < measured < 1.3 * kbps


def test_codec_bitrate_orders_quality_and_keys():
    clean = make_tone(duration=4.0)
    for codec in ("opus", "mp3"):
        low, high = Codec(codec, 16), Codec(codec, 24)
        assert len(high.encode(clean)) > 1.3 * len(low.encode(clean))
        err = {c.kbps: np.mean((c(clean) - clean) ** 2) for c in (low, high)}
        assert err[24] < err[16]
    keys = {Codec(c, k).key for c in ("opus", "mp3") for k in (16, 24)}
    assert keys == {"opus16kbps", "opus24kbps", "mp316kbps", "mp324kbps"}
    with pytest.raises(ParameterError, match="codec must be"):
        Codec("aac", 16)
    with pytest.raises(ParameterError, match="MPEG-2"):
        Codec("mp3", 20)
    with pytest.raises(ParameterError, match="6 to 256"):
        Codec("opus", 4)


def test_shoebox_rooms_give_direct_sound_then_a_tail_of_each_rooms_length():
    import pyroomacoustics as pra

    rooms = ShoeboxRooms()
    responses = rooms.responses()
    assert len(responses) == len(rooms.rooms) * rooms.placements
    rt60 = [float(pra.experimental.measure_rt60(h, fs=16_000)) for h in responses]
    for room, expected in enumerate((0.3, 0.5, 0.8)):
        for value in rt60[room * rooms.placements : (room + 1) * rooms.placements]:
            assert value == pytest.approx(expected, abs=0.08), (room, rt60)
    for h in responses:
        assert int(np.argmax(np.abs(h))) == 40, "starts at the direct sound (sinc half-width)"
    speech = make_tone(duration=2.0)
    out = rooms(speech)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=1e-4)
    assert np.array_equal(out, ShoeboxRooms()(speech)), "deterministic"
    assert not np.allclose(out, Reverb(0.5)(speech), atol=1e-3)
    assert len({rooms.key, ShoeboxRooms(seed=1).key, ShoeboxRooms(placements=2).key}) == 3
    assert "shoebox3x3" in rooms.key
    with pytest.raises(ParameterError, match="distance"):
        ShoeboxRooms(distance=(1.0, 9.0))
    with pytest.raises(ParameterError, match="RT60"):
        ShoeboxRooms(rooms=((4.0, 3.0, 2.7, 5.0),))


def test_gain_changes_level_on_a_16_bit_grid_and_saturates():
    clean = make_tone(duration=1.0)
    pcm = np.round(clean * 32768) / 32768  # as read from a 16-bit file
    assert np.array_equal(Gain(0)(pcm), pcm.astype(np.float32))
    quiet = Gain(-30)(pcm)
    drop = 20 * np.log10(np.sqrt(np.mean(quiet.astype(np.float64) ** 2) / np.mean(pcm**2)))
    assert drop == pytest.approx(-30, abs=0.05)
    assert np.array_equal(quiet * 32768, np.round(quiet * 32768)), "16-bit values"
    assert len(np.unique(Gain(-80)(pcm))) < 10, "very quiet: few levels left"
    loud = Gain(20)(pcm)
    assert loud.max() <= 1.0 and loud.min() >= -1.0
    should_clip = np.abs(pcm) * 10 >= 1.0
    assert np.all(np.abs(loud[should_clip]) >= 32767 / 32768)
    assert np.allclose(loud[~should_clip], 10 * pcm[~should_clip], atol=1 / 32768)
    assert [Gain(-30).key, Gain(20).key] == ["gain-30dB-16bit", "gain+20dB-16bit"]
    with pytest.raises(ParameterError, match="bits"):
        Gain(-30, bits=4)


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_clipping_saturates_the_asked_share_of_samples_and_keeps_loudness(fraction):
    clean = make_tone(duration=2.0)
    out = Clipping(fraction)(clean)
    assert out.shape == clean.shape and out.dtype == np.float32
    at_limit = np.abs(out) >= np.abs(out).max() * (1 - 1e-6)
    assert at_limit.mean() == pytest.approx(fraction, abs=0.002)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(clean**2)), rel=1e-4)
    below = ~at_limit
    ratio = out[below] / clean[below]
    assert np.allclose(ratio, ratio[0], rtol=1e-4), "untouched below the level, but rescaled"
    assert ratio[0] > 1.0, "the clipped signal is brought back up to the original RMS"
    assert Clipping(fraction).key == f"clip{100 * fraction:g}pct"
    silence = np.zeros(1000, dtype=np.float32)
    assert np.array_equal(Clipping(fraction)(silence), silence)


def test_clipping_rejects_shares_outside_zero_to_one():
    for bad in (0.0, 1.0, -0.1, 20):
        with pytest.raises(ParameterError, match="share of samples"):
            Clipping(bad)


def test_training_match_tells_matched_same_kind_and_unseen(tone_talkers):
    assert same_kind(AddNoise(10), AddNoise(20, seed=3))
    assert not same_kind(AddNoise(10), AddNoise(10, color="pink"))
    assert same_kind(Gain(-30), Gain(20))
    assert not same_kind(Codec("opus", 16), Codec("mp3", 16))
    assert not same_kind(Codec("opus", 16), Codec("opus", 24)), "a bitrate is not a level"
    recipe = "speed+light-noise"
    answers = {name: training_match(c, recipe) for name, c in ROBUSTNESS_CONDITIONS.items()}
    assert answers == {
        "noise 20 dB SNR": "yes",
        "noise 10 dB SNR": "same kind",
        "noise 5 dB SNR": "same kind",
        "pink noise 10 dB SNR": "no",
        "telephone band (8 kHz)": "no",
        "reverberation (RT60 0.5 s)": "no",
        "from 44.1 kHz": "no",
        "from 48 kHz": "no",
    }
    assert training_match(AddNoise(15, seed=9), "noise") == "yes"
    assert training_match(AddNoise(20), None) == "no"
    with pytest.raises(ParameterError, match="Unknown augmentation"):
        training_match(AddNoise(20), "everything")
    unseen = unseen_conditions(tone_talkers)
    assert 6 <= len(unseen) <= 8
    for augment in [None, *AUGMENTATIONS]:
        for name, condition in unseen.items():
            assert training_match(condition, augment) == "no", (name, augment)
        assert conditions_seen_in_training(augment, unseen) == []
    keys = [c.key for c in [*ROBUSTNESS_CONDITIONS.values(), *unseen.values()]]
    augment_keys = {t.key for ts in AUGMENTATIONS.values() for t in ts}
    assert len(set(keys)) == len(keys) and not set(keys) & augment_keys
