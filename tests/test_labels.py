"""The label policy for emotions outside the seven core ones."""

from __future__ import annotations

import pandas as pd
import pytest

from emovox.errors import EmovoxError
from emovox.labels import EMOTIONS, apply_policy, label_order


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"/x/{i}.wav" for i in range(6)],
            "label": ["anger", "calm", "neutral", "boredom", "pleasant_surprise", "surprise"],
        }
    )


def test_drop_removes_the_extra_labels(table):
    result = apply_policy(table, "drop")
    assert result["label"].tolist() == ["anger", "neutral", "surprise"]
    assert result.index.tolist() == [0, 1, 2]


def test_drop_is_the_default(table):
    assert apply_policy(table).equals(apply_policy(table, "drop"))


def test_merge_maps_extras_into_core_emotions(table):
    result = apply_policy(table, "merge")
    assert result["label"].tolist() == [
        "anger", "neutral", "neutral", "neutral", "surprise", "surprise"
    ]  # fmt: skip
    assert set(result["label"]) <= set(EMOTIONS)
    assert result["original_label"].tolist() == table["label"].tolist()


def test_keep_leaves_labels_alone(table):
    result = apply_policy(table, "keep")
    assert result["label"].tolist() == table["label"].tolist()


def test_existing_original_label_is_kept(table):
    table["original_label"] = ["W", "02", "N", "L", "ps", "su"]
    assert (
        apply_policy(table, "merge")["original_label"].tolist() == table["original_label"].tolist()
    )


def test_input_table_is_not_modified(table):
    before = table.copy()
    apply_policy(table, "merge")
    assert table.equals(before)


def test_unknown_policy_raises(table):
    with pytest.raises(EmovoxError, match="Unknown label policy 'ignore'"):
        apply_policy(table, "ignore")  # type: ignore[arg-type]


def test_unknown_label_raises(table):
    table.loc[0, "label"] = "contempt"
    with pytest.raises(EmovoxError, match="contempt"):
        apply_policy(table, "keep")


def test_label_order_is_canonical():
    assert label_order({"calm", "sad", "zzz", "anger"}) == ["anger", "sad", "calm", "zzz"]
