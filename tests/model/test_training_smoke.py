"""A tiny end-to-end run of the real training code: a few images, one epoch per stage."""

import csv
import json

import pytest

from xraydesk.ai import outputs
from xraydesk.ai.model import ChestXRayModel
from xraydesk.commands.predict import predict_main
from xraydesk.commands.predict_csv import COLUMNS
from xraydesk.training.finalize import finalize
from xraydesk.training.train import TrainConfig, train

pytestmark = pytest.mark.slow  # minutes: a tiny but whole training run


def test_tiny_training_run_produces_loadable_calibrated_models(tmp_path, data_root, caplog):
    config = TrainConfig(classifier_epochs=1, lungs_epochs=1, gate_epochs=1, batch_size=4,
                         max_examples=6, view_adversary=0.3, classifier_members=2,
                         label_emphasis={"other_abnormal": 3.0}, run_dir=str(tmp_path / "run"),
                         models_dir=str(tmp_path / "models"))
    run_dir = train(config)
    metadata = finalize(run_dir, tmp_path / "models", data_root, config.classifier_members)

    model = ChestXRayModel.load(tmp_path / "models")
    assert len(model.classifiers) == 2 and (tmp_path / "models" / outputs.classifier_file(1)).is_file()
    assert all(len(member.outputs) == 6 for member in model.classifiers), \
        "the view adversary is trained beside the classifier, not shipped"
    assert model.version == f"{metadata['name']} {metadata['version']}"
    assert set(metadata["operating_points"]) == {"normal_ruleout", "abnormal", "pneumonia", "covid", "covid_atypical",
                                                 "zone"}
    assert metadata["classes"] == ["normal", "other_abnormal", "bacterial", "viral", "covid"]
    for name in ("abnormal", "pneumonia", "covid"):
        low, high = metadata["operating_points"][name]["band"]
        assert low <= metadata["operating_points"][name]["threshold"] <= high
    limits = metadata["input_check"]
    assert limits["reconstruction_error_unfamiliar"] <= limits["reconstruction_error_max"]
    assert limits["embedding_distance_unfamiliar"] <= limits["embedding_distance_max"]
    assert all(t > 0 for t in metadata["temperatures"].values())
    assert json.loads((tmp_path / "models" / outputs.METADATA_FILE).read_text()) == metadata

    # Rerunning resumes: finished stages are not trained again.
    stamps = {path.name: path.stat().st_mtime_ns for path in run_dir.glob("*.keras")}
    with caplog.at_level("INFO", logger="xraydesk.train"):
        train(config)
    assert {path.name: path.stat().st_mtime_ns for path in run_dir.glob("*.keras")} == stamps
    assert caplog.text.count("skipping that stage") == 5

    image = next((data_root / "cxr" / "images" / "normal").glob("nih__*.png"))
    out = tmp_path / "out.csv"
    assert predict_main([str(image), "--csv", str(out), "--models", str(tmp_path / "models")]) == 0
    with open(out, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        assert len(list(reader)) == 1
