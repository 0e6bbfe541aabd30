"""What the Grad-CAM heatmaps look at (DeGrave et al. 2021: a model may read the hospital's text
markers or the image border instead of the lungs):
- the share of heatmap mass inside the lungs (reference lung masks of the split), against the
  lungs' share of the image area (what an uninformative, uniform map would score);
- the pointing game on the positive RSNA DICOMs: does the heatmap's peak fall inside a
  radiologist's opacity box?
- a sanity check (Adebayo et al. 2018): randomising the last stage's weights must change the map."""

import csv
from pathlib import Path

import numpy as np

from xraydesk.ai import outputs
from xraydesk.ai.severity import stage_feature_layers
from xraydesk.ai.gradcam import TARGETS, GradCam, upsample
from xraydesk.ai.inputs import prepare_image
from xraydesk.imaging import load_image
from xraydesk.training import data


def lung_mass_share(gradcam: GradCam, examples, data_root, target: str = "pneumonia") -> dict:
    pneumonia = [e for e in examples if e.lung_mask and e.label != "normal"]
    inputs = data.model_inputs(pneumonia, data_root).astype(np.float32) / 255.0
    masks = data.lung_masks(pneumonia, data_root)[..., 0].astype(np.float32)
    maps = np.concatenate([gradcam.heatmaps(inputs[i:i + 32], target) for i in range(0, len(inputs), 32)])
    upsampled = np.stack([upsample(m, masks.shape[1:]) for m in maps])
    mass = upsampled.sum(axis=(1, 2))
    share = (upsampled * masks).sum(axis=(1, 2)) / np.maximum(mass, 1e-12)
    by_age = {age: float(np.mean(share[[e.age_group == age for e in pneumonia]]))
              for age in sorted({e.age_group for e in pneumonia})}
    return {"n": len(pneumonia), "mean_share_in_lungs": float(share[mass > 0].mean()),
            "lung_area_share": float(masks.mean()), "by_age_group": by_age,
            "empty_maps": int((mass == 0).sum())}


def pointing_game(gradcam: GradCam, rsna_folder: Path) -> dict:
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    with open(rsna_folder / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["target"] == "1":
                boxes.setdefault(row["file"], []).append(tuple(float(row[k]) for k in ("x", "y", "width", "height")))
    hits = {}
    for name, rectangles in sorted(boxes.items()):
        image = load_image(rsna_folder / name)
        model_input, _ = prepare_image(image)
        heatmap = upsample(gradcam.heatmaps(model_input[None], "pneumonia")[0], (image.height, image.width))
        row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        hits[name] = any(x <= column <= x + w and y <= row <= y + h for x, y, w, h in rectangles)
    return {"n": len(hits), "hit_rate": float(np.mean(list(hits.values()))) if hits else float("nan"),
            "hits": hits}


def randomisation_sanity(model, examples, data_root, seed: int = 0) -> dict:
    """Rank correlation between the maps of the trained model and of a copy whose last residual
    stage and heads have random weights."""
    import keras

    sample = [e for e in examples if e.label != "normal"][:32]
    inputs = data.model_inputs(sample, data_root).astype(np.float32) / 255.0
    trained = GradCam(model.classifier).heatmaps(inputs, "pneumonia")
    randomised_model = keras.models.clone_model(model.classifier)
    randomised_model.set_weights(model.classifier.get_weights())
    rng = np.random.default_rng(seed)
    # The last stage begins after the previous stage's output, whatever the network's depth.
    names = [layer.name for layer in randomised_model.layers]
    last_stage = randomised_model.layers[names.index(stage_feature_layers(randomised_model)[-2]) + 1:]
    for layer in last_stage:
        layer.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) if w.ndim > 1 else w
                           for w in layer.get_weights()])
    randomised = GradCam(randomised_model).heatmaps(inputs, "pneumonia")
    correlations = [_spearman(a.ravel(), b.ravel()) for a, b in zip(trained, randomised)]
    return {"n": len(sample), "mean_rank_correlation": float(np.nanmean(correlations)),
            "layers_randomised": [layer.name for layer in last_stage]}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def heatmap_report(model, examples, data_root=None) -> dict:
    gradcam = GradCam(model.classifier)
    root = Path(data_root or data.default_data_root())
    return {"lung_mass": lung_mass_share(gradcam, examples, data_root),
            # the app overlays every output's map, so each is checked, not only pneumonia's
            "lung_mass_other_targets": {target: lung_mass_share(gradcam, examples, data_root, target)["mean_share_in_lungs"]
                                        for target in TARGETS[1:]},
            "pointing_game_rsna": pointing_game(gradcam, root / "dicom" / "rsna"),
            "randomisation_sanity": randomisation_sanity(model, examples, data_root)}
