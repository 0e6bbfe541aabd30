"""Where the heatmaps point (DeGrave et al. 2021: a model may read the hospital's text markers or the
image border instead of the lungs), for each candidate map maker — the box-trained opacity head
(the map the app shows) and the Grad-CAM candidates (the explanations):
- on the split's RSNA lung-opacity films, against the radiologists' boxes: the pointing game (is the
  map's peak inside a box?), the pixel AUPRC against the boxes (Arun et al., Radiology: AI 2021) and
  the share of the map's mass inside the boxes, outside the predicted
  lungs and in the image's outer border — always over the whole image, never clipped to the lungs;
- the share of mass inside the reference lung masks of the split, against the lungs' share of the
  image area (what an uninformative, uniform map would score);
- the pointing game on the positive RSNA DICOMs of the shared folder (an outside figure);
and, for the shipped map maker, a sanity check (Adebayo et al. 2018): randomising the last stage's
weights must change the map."""

import csv
from pathlib import Path

import numpy as np

from xraydesk.ai.gradcam import TARGETS, GradCam, upsample
from xraydesk.ai.inputs import prepare_image
from xraydesk.ai.model import opacity_maps
from xraydesk.ai.outputs import FEATURES_LAYER
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE
from xraydesk.ai.severity import stage_feature_layers
from xraydesk.ai.zones import LUNG_THRESHOLD
from xraydesk.imaging import load_image
from xraydesk.training import data, metrics

BORDER_FRACTION = 0.05  # the outer 5% of each side: where film edges, markers and black borders sit
METHOD_NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}
OPACITY_HEAD = "opacity head (box-trained, 14x14)"


def box_mask(boxes, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (row, column) whose centre lies inside any (x, y, width, height) box."""
    rows, columns = np.arange(shape[0])[:, None] + 0.5, np.arange(shape[1])[None, :] + 0.5
    inside = np.zeros(shape, bool)
    for x, y, width, height in boxes:
        inside |= (columns >= x) & (columns <= x + width) & (rows >= y) & (rows <= y + height)
    return inside


def scale_boxes(boxes, image_size: tuple[int, int], size: int = MODEL_INPUT_SIZE) -> list[tuple[float, ...]]:
    """Boxes in the stored image's pixels (width, height = image_size) -> on the squashed model input."""
    sx, sy = size / image_size[0], size / image_size[1]
    return [(x * sx, y * sy, w * sx, h * sy) for x, y, w, h in boxes]


def border_mask(shape: tuple[int, int], fraction: float = BORDER_FRACTION) -> np.ndarray:
    rows, columns = np.indices(shape)
    band_rows, band_columns = fraction * shape[0], fraction * shape[1]
    return ((rows < band_rows) | (rows >= shape[0] - band_rows)
            | (columns < band_columns) | (columns >= shape[1] - band_columns))


def mass_share(heatmap: np.ndarray, region: np.ndarray) -> float:
    """The share of the map's total mass inside `region`; NaN for an empty map."""
    mass = float(heatmap.sum())
    return float(heatmap[region].sum()) / mass if mass > 0 else float("nan")


def pointing_hit(heatmap: np.ndarray, region: np.ndarray) -> bool:
    """Is the map's peak inside `region`? An empty map points nowhere."""
    return bool(heatmap.max() > 0 and region.flat[int(np.argmax(heatmap))])


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def localisation(maps: np.ndarray, in_boxes: np.ndarray, lungs: np.ndarray, patients: np.ndarray) -> dict:
    """maps, in_boxes, lungs: (N, H, W) on the same grid; boxes and lungs boolean."""
    border = border_mask(maps.shape[1:])

    def shares(regions):
        return np.array([mass_share(m, region) for m, region in zip(maps, regions)])

    hits = np.array([pointing_hit(m, boxes) for m, boxes in zip(maps, in_boxes)], float)
    precision = np.array([metrics.average_precision(boxes.ravel(), m.ravel()) for m, boxes in zip(maps, in_boxes)])
    return {"pointing_game": metrics.estimate_with_ci(_finite_mean, patients, hits),
            "pixel_auprc": metrics.estimate_with_ci(_finite_mean, patients, precision),
            "mass_in_boxes": metrics.estimate_with_ci(_finite_mean, patients, shares(in_boxes)),
            "mass_outside_lungs": metrics.estimate_with_ci(_finite_mean, patients, shares(~lungs)),
            "mass_in_border": metrics.estimate_with_ci(_finite_mean, patients, shares([border] * len(maps))),
            "empty_maps": int((maps.reshape(len(maps), -1).max(axis=1) <= 0).sum())}


def candidate_maps(classifier) -> list[tuple[str, str]]:
    """The (layer, method) pairs the shipped map is chosen from (finalize) and compared with (report)."""
    fourteen = stage_feature_layers(classifier)[1]
    return [(FEATURES_LAYER, "gradcam"), (fourteen, "gradcam"), (fourteen, "hirescam")]


def map_makers(classifier, metadata: dict) -> tuple[dict[str, tuple[str, str]], str]:
    """Candidate (layer, method) pairs by name, and the name of the shipped one."""
    pairs = candidate_maps(classifier)
    shipped = (metadata["heatmap"]["layer"], metadata["heatmap"]["method"])
    if shipped not in pairs:
        pairs.append(shipped)

    def name(layer, method):
        side = classifier.get_layer(layer).output.shape[1]
        return f"{METHOD_NAMES.get(method, method)} on {layer} ({side}x{side})"

    return {name(*pair): pair for pair in pairs}, name(*shipped)


def gradcam_maker(gradcam: GradCam, target: str = "pneumonia"):
    return lambda inputs: gradcam.heatmaps(inputs, target)


def opacity_head_maker(model):
    return lambda inputs: opacity_maps(model.raw_outputs(inputs))


def heatmaps(make_maps, inputs: np.ndarray) -> np.ndarray:
    """(N, 224, 224): each map of `make_maps` (inputs -> coarse maps) stretched over the model input,
    as the input was squashed."""
    maps = np.concatenate([make_maps(inputs[i:i + 32]) for i in range(0, len(inputs), 32)])
    return np.stack([upsample(m, (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE)) for m in maps])


def boxed_rsna_films(examples) -> tuple[list, list]:
    """The split's films with opacity boxes (RSNA lung opacity) and their boxes on the model input."""
    films = [e for e in examples if e.boxes]
    return films, [scale_boxes(film.boxes, film.image_size) for film in films]


def lung_mass_share(make_maps, examples, data_root) -> dict:
    pneumonia = [e for e in examples if e.lung_mask and e.is_pneumonia]
    if not pneumonia:
        return {"n": 0}
    inputs = data.model_inputs(pneumonia, data_root).astype(np.float32) / 255.0
    masks = data.lung_masks(pneumonia, data_root)[..., 0].astype(bool)
    maps = heatmaps(make_maps, inputs)
    share = np.array([mass_share(m, lungs) for m, lungs in zip(maps, masks)])
    by_age = {age: _finite_mean(share[[e.age_group == age for e in pneumonia]])
              for age in sorted({e.age_group for e in pneumonia})}
    return {"n": len(pneumonia), "mean_share_in_lungs": _finite_mean(share),
            "lung_area_share": float(masks.mean()), "by_age_group": by_age,
            "empty_maps": int(np.isnan(share).sum())}


def dicom_pointing_game(make_maps, rsna_folder: Path) -> dict:
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    with open(rsna_folder / "boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["target"] == "1":
                boxes.setdefault(row["file"], []).append(tuple(float(row[k]) for k in ("x", "y", "width", "height")))
    hits = {}
    for name, rectangles in sorted(boxes.items()):
        image = load_image(rsna_folder / name)
        model_input, _ = prepare_image(image)
        heatmap = upsample(make_maps(model_input[None])[0], (image.height, image.width))
        hits[name] = pointing_hit(heatmap, box_mask(rectangles, heatmap.shape))
    return {"n": len(hits), "hit_rate": float(np.mean(list(hits.values()))) if hits else float("nan"),
            "hits": hits}


def randomisation_sanity(model, layer: str, method: str, examples, data_root, seed: int = 0) -> dict:
    """Rank correlation between the maps of the trained model and of a copy whose last residual
    stage and heads have random weights."""
    import keras

    sample = [e for e in examples if e.is_pneumonia][:32]
    inputs = data.model_inputs(sample, data_root).astype(np.float32) / 255.0
    # the first member alone on both sides: the check is of a network's maps, not of an average
    trained = GradCam([model.classifier], layer_name=layer, method=method).heatmaps(inputs, "pneumonia")
    randomised_model = keras.models.clone_model(model.classifier)
    randomised_model.set_weights(model.classifier.get_weights())
    rng = np.random.default_rng(seed)
    # The last stage begins after the previous stage's output, whatever the network's depth.
    names = [layer.name for layer in randomised_model.layers]
    last_stage = randomised_model.layers[names.index(stage_feature_layers(randomised_model)[-2]) + 1:]
    for stage_layer in last_stage:
        stage_layer.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) if w.ndim > 1 else w
                                 for w in stage_layer.get_weights()])
    randomised = GradCam([randomised_model], layer_name=layer, method=method).heatmaps(inputs, "pneumonia")
    correlations = [metrics.spearman_r(a.ravel(), b.ravel()) for a, b in zip(trained, randomised)]
    return {"n": len(sample), "mean_rank_correlation": float(np.nanmean(correlations)),
            "layers_randomised": [stage_layer.name for stage_layer in last_stage]}


def box_localisation(model, makers: dict, examples, data_root=None) -> tuple[dict, dict]:
    """Each map maker's localisation on the films with opacity boxes among `examples`:
    (what the boxes cover, {name: localisation})."""
    films, boxes = boxed_rsna_films(examples)
    if not films:
        return {"n": 0}, {}
    inputs = data.model_inputs(films, data_root).astype(np.float32) / 255.0
    in_boxes = np.stack([box_mask(b, (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE)) for b in boxes])
    lungs = model.lung_probabilities(inputs) >= LUNG_THRESHOLD
    patients = np.array([film.patient_id for film in films])
    covered = {"n": len(films), "box_area_share": float(in_boxes.mean()), "lung_area_share": float(lungs.mean()),
               "border_area_share": float(border_mask(in_boxes.shape[1:]).mean())}
    return covered, {name: localisation(heatmaps(make_maps, inputs), in_boxes, lungs, patients)
                     for name, make_maps in makers.items()}


def heatmap_report(model, examples, data_root=None) -> dict:
    pairs, shipped = map_makers(model.classifier, model.metadata)
    gradcams = {name: GradCam(model.classifiers, layer_name=layer, method=method)
                for name, (layer, method) in pairs.items()}
    makers = {OPACITY_HEAD: opacity_head_maker(model),
              **{name: gradcam_maker(gradcam) for name, gradcam in gradcams.items()}}
    rsna_folder = Path(data_root or data.default_data_root()) / "dicom" / "rsna"
    candidates = {name: {"lung_mass": lung_mass_share(make_maps, examples, data_root),
                         "dicom_pointing_game": dicom_pointing_game(make_maps, rsna_folder)}
                  for name, make_maps in makers.items()}
    boxes_report, per_map = box_localisation(model, makers, examples, data_root)
    for name, result in per_map.items():
        candidates[name]["rsna_boxes"] = result
    layer, method = pairs[shipped]
    return {"shipped": OPACITY_HEAD, "explanation": shipped, "candidates": candidates, "rsna_boxes": boxes_report,
            # the app overlays every output's map, so each is checked, not only pneumonia's
            "lung_mass_other_targets": {
                target: lung_mass_share(gradcam_maker(gradcams[shipped], target), examples, data_root)
                .get("mean_share_in_lungs", float("nan")) for target in TARGETS[1:]},
            "randomisation_sanity": randomisation_sanity(model, layer, method, examples, data_root)}


MONTAGE_GROUPS = (
    ("RSNA lung opacity, AP", lambda e: e.source == "rsna" and e.boxes and e.view == "AP"),
    ("RSNA lung opacity, PA", lambda e: e.source == "rsna" and e.boxes and e.view == "PA"),
    ("RSNA normal", lambda e: e.source == "rsna" and e.label == "normal"),
    ("RALO portable (COVID-19)", lambda e: e.source == "ralo"),
)


def heatmap_montage(model, examples, out: Path, per_group: int = 6, data_root=None) -> None:
    """The shown opacity map over the first films of each group (boxes outlined): a picture of what
    the map looks at on AP vs PA films, normal films and portable films with text and lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    make_maps = opacity_head_maker(model)
    figure, axes = plt.subplots(len(MONTAGE_GROUPS), per_group, figsize=(2 * per_group, 2.2 * len(MONTAGE_GROUPS)))
    for row, (title, belongs) in enumerate(MONTAGE_GROUPS):
        films = [e for e in examples if belongs(e)][:per_group]
        inputs = data.model_inputs(films, data_root).astype(np.float32) / 255.0 if films else None
        for column, axis in enumerate(axes[row]):
            axis.set_axis_off()
            if column >= len(films):
                continue
            axis.imshow(inputs[column, ..., 0], cmap="gray", vmin=0, vmax=1)
            axis.imshow(heatmaps(make_maps, inputs[column:column + 1])[0], cmap="turbo", alpha=0.4, vmin=0, vmax=1)
            for x, y, w, h in scale_boxes(films[column].boxes or (), films[column].image_size):
                axis.add_patch(matplotlib.patches.Rectangle((x, y), w, h, fill=False, color="white", lw=1))
        axes[row][0].set_title(title, fontsize=9, loc="left")
    figure.suptitle(f"{model.version}: opacity map (the box-trained head, a probability per cell), "
                    "never clipped to the lungs; white: radiologists' boxes", fontsize=10)
    figure.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(figure)
