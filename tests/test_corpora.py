"""Corpus loaders: exact counts on the real corpora, naming rules on generated fixtures."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_tone
from emovox.corpora import CORPORA, CorpusWarning, load_corpora, load_corpus, normalize_label
from emovox.corpora.files import CORE_COLUMNS
from emovox.corpora.naming import LABEL_SYNONYMS
from emovox.errors import CorpusError, EmovoxError
from emovox.labels import ALL_LABELS, EMOTIONS


def tones(root: Path, *names: str) -> Path:
    """Write a tiny tone at each relative path under ``root``; return ``root``."""
    for name in names:
        write_tone(root / name, duration=0.05)
    return root


def counts(table: pd.DataFrame, column: str = "label") -> dict[str, int]:
    return table[column].value_counts().to_dict()


def load_quietly(name: str, root: Path, **options) -> pd.DataFrame:
    """Load and fail on any warning: real corpora must parse completely."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_corpus(name, root, **options)


def assert_well_formed(table: pd.DataFrame, corpus: str) -> None:
    assert tuple(table.columns[: len(CORE_COLUMNS)]) == CORE_COLUMNS
    assert table["path"].tolist() == sorted(table["path"])
    assert table.index.tolist() == list(range(len(table)))
    assert all(os.path.isabs(p) for p in table["path"])
    assert set(table["label"]) <= set(ALL_LABELS)
    assert (table["corpus"] == corpus).all()
    assert table["speaker"].str.startswith(f"{corpus}:").all()
    assert set(table["gender"]) <= {"f", "m", None}


# Counted by hand: ls emodb/wav | cut -c6 | sort | uniq -c
EMODB_COUNTS = {
    "anger": 127,  # W
    "neutral": 79,  # N
    "happy": 71,  # F
    "sad": 62,  # T
    "boredom": 9,  # L
    "disgust": 9,  # E
    "fear": 5,  # A
}

# Counted by hand: for d in turev_db/*/; do ls $d | cut -d_ -f2 | sort | uniq -c; done
TUREV_COUNTS = {"anger": 487, "sad": 483, "calm": 408, "happy": 357}


# --- real corpora ------------------------------------------------------------------------


@pytest.mark.corpus
class TestRavdess:
    def test_keep_has_every_emotion(self, corpus_root):
        table = load_quietly("ravdess", corpus_root("ravdess"), policy="keep")
        assert_well_formed(table, "ravdess")
        assert len(table) == 1200
        expected = {label: 160 for label in EMOTIONS if label != "neutral"}
        assert counts(table) == {**expected, "neutral": 80, "calm": 160}
        assert table["speaker"].nunique() == 20
        assert counts(table.drop_duplicates("speaker"), "gender") == {"f": 10, "m": 10}
        assert (table["vocal_channel"] == "speech").all()

    def test_odd_actors_are_male(self, corpus_root):
        table = load_quietly("ravdess", corpus_root("ravdess"))
        actors = table["speaker"].str.removeprefix("ravdess:").astype(int)
        assert ((actors % 2 == 1) == (table["gender"] == "m")).all()

    def test_drop_removes_calm(self, corpus_root):
        table = load_quietly("ravdess", corpus_root("ravdess"))
        assert len(table) == 1040
        assert "calm" not in set(table["label"])

    def test_merge_adds_calm_to_neutral(self, corpus_root):
        table = load_quietly("ravdess", corpus_root("ravdess"), policy="merge")
        assert len(table) == 1200
        assert counts(table)["neutral"] == 240
        assert counts(table[table["label"] == "neutral"], "original_label") == {
            "calm": 160,
            "neutral": 80,
        }

    def test_fields_of_one_file(self, corpus_root):
        table = load_quietly("ravdess", corpus_root("ravdess"))
        row = table[table["path"].str.endswith("03-01-05-02-01-02-12.flac")].iloc[0]
        assert (row["label"], row["original_label"], row["speaker"], row["gender"]) == (
            "anger",
            "angry",
            "ravdess:12",
            "f",
        )
        assert (row["intensity"], row["statement"], row["repetition"]) == ("strong", 1, 2)


@pytest.mark.corpus
class TestTess:
    def test_counts(self, corpus_root):
        table = load_quietly("tess", corpus_root("tess"), policy="keep")
        assert_well_formed(table, "tess")
        assert len(table) == 2800
        assert counts(table) == {
            label: 400 for label in [*EMOTIONS, "pleasant_surprise"] if label != "surprise"
        }
        assert counts(table, "speaker") == {"tess:OAF": 1400, "tess:YAF": 1400}
        assert (table["gender"] == "f").all()
        assert table["word"].nunique() == 200

    def test_drop_and_merge_pleasant_surprise(self, corpus_root):
        assert len(load_quietly("tess", corpus_root("tess"))) == 2400
        merged = load_quietly("tess", corpus_root("tess"), policy="merge")
        assert counts(merged)["surprise"] == 400

    def test_typo_prefix_is_older_speaker(self, corpus_root):
        table = load_quietly("tess", corpus_root("tess"))
        row = table[table["path"].str.endswith("OA_bite_neutral.flac")].iloc[0]
        assert (row["speaker"], row["word"], row["label"]) == ("tess:OAF", "bite", "neutral")


@pytest.mark.corpus
class TestEmodb:
    def test_counts(self, corpus_root):
        table = load_quietly("emodb", corpus_root("emodb"), policy="keep")
        assert_well_formed(table, "emodb")
        assert len(table) == 362
        assert counts(table) == EMODB_COUNTS
        assert table["speaker"].nunique() == 10
        assert counts(table.drop_duplicates("speaker"), "gender") == {"f": 5, "m": 5}

    def test_drop_removes_boredom(self, corpus_root):
        table = load_quietly("emodb", corpus_root("emodb"))
        assert len(table) == 362 - 9
        assert "boredom" not in set(table["label"])

    def test_fields_of_one_file(self, corpus_root):
        table = load_quietly("emodb", corpus_root("emodb"))
        row = table[table["path"].str.endswith("03a01Fa.flac")].iloc[0]
        assert (row["label"], row["original_label"], row["speaker"], row["gender"]) == (
            "happy",
            "F",
            "emodb:03",
            "m",
        )
        assert (row["text"], row["version"]) == ("a01", "a")


@pytest.mark.corpus
class TestTurev:
    def test_counts(self, corpus_root):
        table = load_quietly("turev", corpus_root("turev_db"), policy="keep")
        assert_well_formed(table, "turev")
        assert len(table) == 1735
        assert counts(table) == TUREV_COUNTS
        assert table["speaker"].nunique() == 6
        assert table["gender"].isna().all()
        assert counts(table, "original_label") == {"kz": 487, "hl": 483, "sk": 408, "mt": 357}

    def test_drop_removes_calm(self, corpus_root):
        table = load_quietly("turev_db", corpus_root("turev_db"))
        assert len(table) == 1735 - 408


@pytest.mark.corpus
def test_load_corpora_concatenates_real_corpora(corpus_root):
    table = load_corpora(
        [("ravdess", corpus_root("ravdess")), ("emodb", corpus_root("emodb"))], policy="keep"
    )
    assert len(table) == 1200 + 362
    assert counts(table, "corpus") == {"ravdess": 1200, "emodb": 362}
    assert table["speaker"].nunique() == 30
    assert table.index.tolist() == list(range(len(table)))


# --- RAVDESS options on fixtures ---------------------------------------------------------


def test_ravdess_songs_only_when_asked(tmp_path):
    root = tones(
        tmp_path,
        "Actor_01/03-01-05-01-01-01-01.wav",
        "Actor_01/03-02-05-01-01-01-01.wav",
        "Actor_02/01-01-02-02-02-02-02.WAV",
    )
    speech = load_corpus("ravdess", root, policy="keep")
    assert speech["vocal_channel"].tolist() == ["speech", "speech"]
    assert speech["modality"].tolist() == ["audio", "audio-video"]
    both = load_corpus("ravdess", root, policy="keep", include_song=True)
    assert sorted(both["vocal_channel"]) == ["song", "speech", "speech"]


def test_ravdess_with_only_songs_raises(tmp_path):
    root = tones(tmp_path, "03-02-05-01-01-01-01.wav")
    with pytest.raises(CorpusError, match="excluded by the options"):
        load_corpus("ravdess", root)


# --- SAVEE ------------------------------------------------------------------------------

SAVEE_EXPECTED = {
    "anger": ("a", 1),
    "disgust": ("d", 2),
    "fear": ("f", 3),
    "happy": ("h", 4),
    "neutral": ("n", 30),
    "sad": ("sa", 5),
    "surprise": ("su", 15),
}


def check_savee(table: pd.DataFrame) -> None:
    assert_well_formed(table, "savee")
    assert len(table) == 7
    for label, (code, number) in SAVEE_EXPECTED.items():
        row = table[table["label"] == label].iloc[0]
        assert (row["original_label"], row["utterance"]) == (code, number)
    assert set(table["speaker"]) == {"savee:DC", "savee:JE", "savee:JK", "savee:KL"}
    assert (table["gender"] == "m").all()


def test_savee_flat_layout(tmp_path):
    speakers = ["DC", "JE", "JK", "KL", "DC", "JE", "JK"]
    names = [
        f"{s}_{code}{number:02d}.wav"
        for s, (code, number) in zip(speakers, SAVEE_EXPECTED.values(), strict=True)
    ]
    check_savee(load_corpus("savee", tones(tmp_path / "AudioData", *names)))


def test_savee_speaker_folders(tmp_path):
    speakers = ["KL", "JK", "JE", "DC", "KL", "JK", "JE"]
    names = [
        f"{s}/{code}{number:02d}.flac"
        for s, (code, number) in zip(speakers, SAVEE_EXPECTED.values(), strict=True)
    ]
    table = load_corpus("savee", tones(tmp_path, *names))
    check_savee(table)
    assert table.loc[table["label"] == "sad", "speaker"].item() == "savee:JK"


def test_savee_skips_unknown_speakers_and_codes(tmp_path):
    root = tones(tmp_path, "DC_a01.wav", "XY_a01.wav", "DC/x01.wav", "a01.wav")
    with pytest.warns(CorpusWarning, match="Skipped 3 file"):
        table = load_corpus("savee", root)
    assert table["path"].str.endswith("DC_a01.wav").tolist() == [True]


# --- CREMA-D ----------------------------------------------------------------------------

CREMAD_FILES = (
    "1001_DFA_ANG_XX.wav",
    "1001_IEO_HAP_HI.wav",
    "1002_TIE_SAD_LO.wav",
    "1002_IOM_DIS_MD.wav",
    "1003_IWW_FEA_XX.wav",
    "1091_MTI_NEU_XX.wav",
)
DEMOGRAPHICS = (
    "ActorID,Age,Sex,Race,Ethnicity\n"
    "1001,51,Male,Caucasian,Not Hispanic\n"
    "1002,21,Female,Caucasian,Not Hispanic\n"
    "1091,29,Female,Asian,Not Hispanic\n"
)


def test_cremad_without_demographics(tmp_path):
    table = load_corpus("cremad", tones(tmp_path / "AudioWAV", *CREMAD_FILES))
    assert_well_formed(table, "cremad")
    assert counts(table) == dict.fromkeys(
        ["anger", "happy", "sad", "disgust", "fear", "neutral"], 1
    )
    assert table["gender"].isna().all()
    row = table.iloc[0]
    assert (row["speaker"], row["original_label"], row["sentence"], row["level"]) == (
        "cremad:1001",
        "ANG",
        "DFA",
        "unspecified",
    )
    assert sorted(table["level"]) == ["high", "low", "medium"] + ["unspecified"] * 3


@pytest.mark.parametrize("where", [".", ".."])
def test_cremad_genders_from_demographics(tmp_path, where):
    root = tones(tmp_path / "AudioWAV", *CREMAD_FILES)
    (root / where / "VideoDemographics.csv").write_text(DEMOGRAPHICS)
    table = load_corpus("cremad", root)
    genders = dict(zip(table["speaker"], table["gender"], strict=True))
    assert genders == {
        "cremad:1001": "m",
        "cremad:1002": "f",
        "cremad:1003": None,  # not in the demographics file
        "cremad:1091": "f",
    }


def test_cremad_bad_demographics_raise(tmp_path):
    root = tones(tmp_path, *CREMAD_FILES)
    (root / "VideoDemographics.csv").write_text("Actor,Gender\n1001,Male\n")
    with pytest.raises(CorpusError, match="lacks the column"):
        load_corpus("cremad", root)


def test_cremad_skips_actors_out_of_range(tmp_path):
    root = tones(tmp_path, "1001_DFA_ANG_XX.wav", "1092_DFA_ANG_XX.wav", "1001_DFA_CAL_XX.wav")
    with pytest.warns(CorpusWarning, match="Skipped 2 file"):
        assert len(load_corpus("cremad", root)) == 1


# --- TurEV-DB, TESS, EmoDB naming on fixtures --------------------------------------------


def test_turev_code_wins_over_folder(tmp_path):
    root = tones(tmp_path, "Angry/1234_kz_ordek.wav", "Happy/1234_hl_ogul1.wav")
    with pytest.warns(CorpusWarning, match="1 TurEV-DB file"):
        table = load_corpus("turev", root)
    assert table["label"].tolist() == ["anger", "sad"]
    assert table["word"].tolist() == ["ordek", "ogul1"]


def test_tess_label_from_file_not_folder(tmp_path):
    root = tones(tmp_path, "YAF_pleasant_surprised/YAF_dog_ps.wav", "OAF_Fear/OAF_back_angry.wav")
    table = load_corpus("tess", root, policy="keep")
    assert table["label"].tolist() == ["anger", "pleasant_surprise"]


def test_emodb_unknown_speaker_has_no_gender(tmp_path):
    table = load_corpus("emodb", tones(tmp_path, "99a01Wa.wav", "16b10Tb.wav"))
    assert table["gender"].tolist() == ["f", None]


# --- folder -----------------------------------------------------------------------------


def test_folder_normalises_folder_names(tmp_path):
    root = tones(
        tmp_path,
        "Angry/a.wav",
        "anger/b.wav",
        "happiness/c.flac",
        "sad/session1/d.wav",
        "Fearful/e.wav",
        "disgusted/f.wav",
        "Surprised/g.wav",
        "neutral/h.wav",
        "bored/i.wav",
        "PS/j.wav",
        "calm/k.wav",
    )
    table = load_corpus("folder", root, policy="keep")
    assert_well_formed(table, "folder")
    assert counts(table) == {
        "anger": 2,
        **dict.fromkeys(["happy", "sad", "fear", "disgust", "surprise", "neutral"], 1),
        **dict.fromkeys(["boredom", "pleasant_surprise", "calm"], 1),
    }
    assert (table["speaker"] == "folder:unknown").all()
    assert table.loc[table["label"] == "fear", "original_label"].item() == "Fearful"
    assert len(load_corpus("folder", root)) == 8


def test_folder_unknown_names_raise(tmp_path):
    root = tones(tmp_path, "angry/a.wav", "contempt/b.wav", "misc/c.wav")
    (tmp_path / "docs").mkdir()  # a folder without audio is ignored
    with pytest.raises(CorpusError, match="contempt, misc"):
        load_corpus("folder", root)


def test_folder_skips_files_in_root(tmp_path):
    root = tones(tmp_path, "angry/a.wav", "loose.wav")
    with pytest.warns(CorpusWarning, match="Skipped 1 file"):
        assert len(load_corpus("folder", root)) == 1


# --- manifest ---------------------------------------------------------------------------


def write_manifest(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_manifest_relative_and_absolute_paths(tmp_path):
    tones(tmp_path / "data", "clips/one.wav", "clips/two.flac")
    outside = tones(tmp_path / "elsewhere", "three.wav") / "three.wav"
    csv = write_manifest(
        tmp_path / "data" / "list.csv",
        "path,label,speaker,gender,session\n"
        "clips/one.wav,Angry,s1,F,1\n"
        "clips/two.flac, happiness ,s2,male,2\n"
        f"{outside},bored,,,3\n",
    )
    table = load_corpus("manifest", csv, policy="keep")
    assert_well_formed(table, "manifest")
    by_name = table.set_index(table["path"].map(lambda p: Path(p).name))
    assert by_name.loc["one.wav", "path"] == str(tmp_path / "data" / "clips" / "one.wav")
    assert by_name["label"].to_dict() == {
        "one.wav": "anger",
        "two.flac": "happy",
        "three.wav": "boredom",
    }
    assert by_name["original_label"].to_dict()["two.flac"] == "happiness"
    assert by_name["speaker"].tolist() == ["manifest:s1", "manifest:s2", "manifest:unknown"]
    assert by_name["gender"].tolist() == ["f", "m", None]
    assert by_name["session"].tolist() == ["1", "2", "3"]
    assert len(load_corpus("manifest", csv)) == 2


def test_manifest_without_optional_columns(tmp_path):
    tones(tmp_path, "a.wav")
    table = load_corpus("manifest", write_manifest(tmp_path / "m.csv", "path,label\na.wav,sad\n"))
    assert (table["speaker"].item(), table["gender"].item()) == ("manifest:unknown", None)


def test_manifest_missing_files_are_listed(tmp_path):
    tones(tmp_path, "a.wav")
    rows = "".join(f"gone{i}.wav,sad\n" for i in range(8))
    csv = write_manifest(tmp_path / "m.csv", f"path,label\na.wav,sad\n{rows}")
    with pytest.raises(CorpusError, match=r"8 file\(s\).*gone0\.wav.*and 3 more"):
        load_corpus("manifest", csv)


def test_manifest_unknown_label_raises(tmp_path):
    tones(tmp_path, "a.wav", "b.wav")
    csv = write_manifest(tmp_path / "m.csv", "path,label\na.wav,sad\nb.wav,contempt\n")
    with pytest.raises(CorpusError, match=r"unknown label\(s\) contempt \(line\(s\) 3\)"):
        load_corpus("manifest", csv)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,emotion\na.wav,sad\n", "no path or label column"),
        ("path,label\n", "lists no file"),
        ("path,label\na.wav,\n", "empty label on line"),
        ("path,label,gender\na.wav,sad,x\n", "unknown gender"),
        ("path,label\na.wav,sad\n./a.wav,happy\n", "more than once"),
        ("path,label,corpus\na.wav,sad,x\n", "fills itself"),
    ],
)
def test_manifest_malformed_raises(tmp_path, text, message):
    tones(tmp_path, "a.wav")
    with pytest.raises(CorpusError, match=message):
        load_corpus("manifest", write_manifest(tmp_path / "m.csv", text))


def test_manifest_path_must_be_a_file(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus("manifest", tmp_path / "missing.csv")
    with pytest.raises(CorpusError, match="is a folder"):
        load_corpus("manifest", tmp_path)


# --- bad input, for every folder-based loader ---------------------------------------------

FOLDER_LOADERS = [name for name in CORPORA if name != "manifest"]


@pytest.mark.parametrize("name", FOLDER_LOADERS)
def test_missing_root_raises(tmp_path, name):
    with pytest.raises(CorpusError, match=f"{name} folder .*nowhere' does not exist"):
        load_corpus(name, tmp_path / "nowhere")


@pytest.mark.parametrize("name", FOLDER_LOADERS)
def test_root_without_audio_raises(tmp_path, name):
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "sub").mkdir()
    with pytest.raises(CorpusError, match=r"No \.wav or \.flac file found"):
        load_corpus(name, tmp_path)


def test_root_that_is_a_file_raises(tmp_path):
    path = tones(tmp_path, "03-01-05-01-01-01-01.wav") / "03-01-05-01-01-01-01.wav"
    with pytest.raises(CorpusError, match="is not a folder"):
        load_corpus("ravdess", path)


def test_unparseable_names_are_skipped_with_a_warning(tmp_path):
    root = tones(tmp_path, "03-01-05-01-01-01-01.wav", "03-01-09-01-01-01-01.wav", "take2.flac")
    (tmp_path / "readme.txt").write_text("ignored: not audio")
    with pytest.warns(CorpusWarning, match=r"Skipped 2 file\(s\).*ravdess convention"):
        table = load_corpus("ravdess", root)
    assert len(table) == 1


def test_only_unparseable_names_raise(tmp_path):
    root = tones(tmp_path, "a.wav", "b.wav")
    with (
        pytest.warns(CorpusWarning),
        pytest.raises(CorpusError, match=r"none of the 2 audio files there has names like"),
    ):
        load_corpus("emodb", root)


def test_hidden_files_are_ignored(tmp_path):
    root = tones(tmp_path, "wav/03a01Wa.wav", "wav/._03a01Wa.wav", ".trash/03a02Wa.wav")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_corpus("emodb", root)) == 1


def test_extensions_in_any_case(tmp_path):
    root = tones(tmp_path, "03a01Wa.WAV", "03a02Wa.Flac", "03a03Wa.ogg")
    assert len(load_corpus("emodb", root)) == 2


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    tones(tmp_path, "wav/03a01Wa.wav")
    monkeypatch.chdir(tmp_path)
    assert load_corpus("emodb", "wav")["path"].item() == str(tmp_path / "wav" / "03a01Wa.wav")


# --- load_corpus / load_corpora ----------------------------------------------------------


def test_unknown_corpus_raises(tmp_path):
    with pytest.raises(CorpusError, match=r"Unknown corpus 'iemocap'.*ravdess"):
        load_corpus("iemocap", tmp_path)


def test_unknown_option_raises(tmp_path):
    with pytest.raises(CorpusError, match="no option include_song; its options are: none"):
        load_corpus("tess", tmp_path, include_song=True)


def test_unknown_policy_raises(tmp_path):
    root = tones(tmp_path, "03a01Wa.wav")
    with pytest.raises(EmovoxError, match="Unknown label policy"):
        load_corpus("emodb", root, policy="ignore")  # type: ignore[arg-type]


def test_corpus_names_are_forgiving(tmp_path):
    root = tones(tmp_path, "1001_DFA_ANG_XX.wav")
    assert load_corpus("CREMA-D", root)["corpus"].item() == "cremad"


def test_load_corpora_from_mapping_and_pairs(tmp_path):
    emodb = tones(tmp_path / "emodb", "03a01Wa.wav", "03a01La.wav")
    savee = tones(tmp_path / "savee", "DC_a01.wav", "DC_su01.wav")
    table = load_corpora({"emodb": emodb, "savee": savee}, policy="keep")
    assert table["corpus"].tolist() == ["emodb", "emodb", "savee", "savee"]
    assert set(table["gender"]) == {"m"}
    assert {"text", "version", "utterance"} <= set(table.columns)
    dropped = load_corpora([("emodb", emodb), ("savee", savee)])
    assert dropped["label"].tolist() == ["anger", "anger", "surprise"]


def test_load_corpora_rejects_nothing_and_duplicates(tmp_path):
    root = tones(tmp_path, "03a01Wa.wav")
    with pytest.raises(CorpusError, match="No corpus given"):
        load_corpora([])
    with pytest.raises(CorpusError, match="loaded twice"):
        load_corpora([("emodb", root), ("emodb", root)])


# --- naming -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("ang", "anger"),
        ("Angry", "anger"),
        ("joy", "happy"),
        ("SADNESS", "sad"),
        ("fearful", "fear"),
        ("disgusted", "disgust"),
        ("surprised", "surprise"),
        ("Pleasant surprise", "pleasant_surprise"),
        ("pleasant-surprised", "pleasant_surprise"),
        ("bored", "boredom"),
        (" neutral ", "neutral"),
        ("calm", "calm"),
    ],
)
def test_normalize_label(name, label):
    assert normalize_label(name) == label


def test_every_synonym_is_a_known_label():
    assert set(LABEL_SYNONYMS.values()) == set(ALL_LABELS)


def test_normalize_label_unknown_raises():
    with pytest.raises(CorpusError, match="Unknown emotion name 'contempt'"):
        normalize_label("contempt")
