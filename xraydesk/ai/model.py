"""The shipped chest X-ray model at run time: loading, calibrated outputs, operating points and the
input check. No Qt. TensorFlow is imported when a model is loaded, never at import time.

The six zone and the extent outputs come from the severity model, which reads the classifier's
stage feature maps pooled within the zones placed on the lung segmenter's mask of the same image."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraydesk.ai import gate, severity
from xraydesk.ai.lung_check import PLAUSIBLE, LungMaskCheck, check_lung_mask
from xraydesk.ai.outputs import (
    ABNORMAL_OUTPUT,
    AUTOENCODER_FILE,
    CAUSE_OUTPUT,
    CLASSIFIER_MEMBERS_KEY,
    EMBEDDING_LAYER,
    EXTENT_MAX,
    GATE_STATS_FILE,
    LUNG_SCORE_MAX,
    LUNGS_FILE,
    METADATA_FILE,
    OPACITY_MAP_OUTPUT,
    PNEUMONIA_OUTPUT,
    SEVERITY_FILE,
    classifier_file,
)
from xraydesk.ai.preprocess import MODEL_INPUT_SIZE, to_model_input
from xraydesk.ai.zones import lung_mask
from xraydesk.package_data import data_folder

DEFAULT_MODEL_DIR = data_folder("models")
AUTOENCODER_POOL = 4  # the autoencoder reconstructs a 56x56 thumbnail of the 224x224 input


def default_model_dir() -> Path:
    return Path(os.environ.get("XRAYDESK_MODELS", DEFAULT_MODEL_DIR))


def model_version(metadata: dict) -> str:
    """The model's name and version ("XRayDesk CXR 0.3.0"): its own, apart from the application's."""
    return f"{metadata['name']} {metadata['version']}"


def installed_model_version(model_dir: Path | str | None = None) -> str:
    """model_version read from the metadata file, without loading the model (TensorFlow); else why not."""
    try:
        return model_version(installed_metadata(model_dir))
    except ModelUnavailableError as error:
        return f"unavailable ({error})"


def installed_metadata(model_dir: Path | str | None = None) -> dict:
    """The model's metadata file (its name, version and operating points), without loading the model;
    ModelUnavailableError when it cannot be read."""
    path = Path(model_dir or default_model_dir()) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
        model_version(metadata)
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailableError(f"{path}: {error}") from error
    return metadata


class ModelUnavailableError(Exception):
    """The model files are missing or unreadable; the message says which and why."""


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    """Three answers: any abnormality (p_abnormal), a pneumonia-like opacity (p_pneumonia, split by
    cause into the joint p_bacterial + p_viral + p_covid = p_pneumonia), and the severity. A
    pneumonia is an abnormality, so p_abnormal >= p_pneumonia (model.calibrated_probabilities)."""
    p_abnormal: float
    p_pneumonia: float
    p_bacterial: float
    p_viral: float
    p_covid: float
    pneumonia_positive: bool
    covid_positive: bool
    zone_probabilities: tuple[float, ...]
    zone_positive: tuple[bool, ...]
    lung_extent: tuple[float, float]  # patient's right, left: extent of involvement 0-4 each
    lung_opacity: tuple[float, float]  # patient's right, left: degree of opacity 0-4 each
    # within the borderline band around the operating point: the call is indeterminate
    pneumonia_borderline: bool = False
    covid_borderline: bool = False
    abnormal_positive: bool = False  # at or above the abnormal operating point
    abnormal_borderline: bool = False
    # below the high-sensitivity rule-out point: "no abnormality found" (never with a pneumonia call)
    normal_ruleout: bool = False

    @property
    def p_normal(self) -> float:
        """No abnormality of any kind (not merely "no pneumonia")."""
        return 1.0 - self.p_abnormal

    @property
    def six_zone_score(self) -> int:
        return int(sum(self.zone_positive))

    @property
    def geographic_extent(self) -> float:
        """0-8 (Cohen et al. 2020): the two lungs' extents summed."""
        return float(sum(self.lung_extent))

    @property
    def opacity_score(self) -> float:
        """0-8: the two lungs' degrees of opacity summed."""
        return float(sum(self.lung_opacity))


FLAGS = ("unfamiliar", "lung_mask_failed", "borderline_pneumonia", "borderline_covid", "positive_no_zones",
         "zones_without_call", "extent_disagrees_with_zones")
# extent (0-8) and six-zone score (0-6) as shares of their maximum further apart than this disagree
EXTENT_ZONES_DISAGREEMENT = 0.4


def outcome_flags(check: gate.InputCheck, prediction: Prediction | None, lungs: LungMaskCheck) -> tuple[str, ...]:
    """What a reader must know before trusting the numbers, as short names (CSV `flags`, dock, PDF):
    the input check, the lung mask, borderline calls, and every place where two of the model's own
    outputs disagree (a reader shown both must be told)."""
    if prediction is None:
        return ()
    called = prediction.pneumonia_positive and not prediction.pneumonia_borderline
    not_called = not prediction.pneumonia_positive and not prediction.pneumonia_borderline
    score = prediction.six_zone_score
    raised = {
        "unfamiliar": bool(check.unfamiliar),
        "lung_mask_failed": not lungs.plausible,
        "borderline_pneumonia": prediction.pneumonia_borderline,
        "borderline_covid": prediction.covid_borderline,
        "positive_no_zones": lungs.plausible and called and score == 0,
        "zones_without_call": lungs.plausible and not_called and score > 0,
        "extent_disagrees_with_zones": lungs.plausible and abs(
            prediction.geographic_extent / EXTENT_MAX - score / len(prediction.zone_positive)
        ) > EXTENT_ZONES_DISAGREEMENT,
    }
    return tuple(flag for flag in FLAGS if raised[flag])


@dataclass(frozen=True)
class Outcome:
    """The model's answer for one image: a prediction, or the input check's refusal."""
    check: gate.InputCheck
    prediction: Prediction | None = None
    lung_probability: np.ndarray | None = None  # (224, 224), the mask the zones were placed on
    lung_check: LungMaskCheck = PLAUSIBLE  # when implausible, zones and severity are withheld
    # (14, 14) probability that each cell holds a pneumonia-like opacity: the localisation head
    # trained on the RSNA radiologists' boxes, over the whole (squashed) image
    opacity_map: np.ndarray | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        return outcome_flags(self.check, self.prediction, self.lung_check)


def calibrated_probabilities(raw: dict[str, np.ndarray], metadata: dict) -> dict[str, np.ndarray]:
    """Raw logits -> p_abnormal, p_pneumonia and the joint p_bacterial + p_viral + p_covid = p_pneumonia.

    The two heads are trained separately, so p(abnormal) can come out below p(pneumonia); a
    pneumonia is an abnormality, so p_abnormal is at least p_pneumonia."""
    temperatures = metadata["temperatures"]
    p_pneumonia = sigmoid(raw["pneumonia"][:, 0] / temperatures["pneumonia"])
    p_abnormal = np.maximum(sigmoid(raw["abnormal"][:, 0] / temperatures["abnormal"]), p_pneumonia)
    cause = softmax(raw["cause"] / temperatures["cause"])
    return {
        "abnormal": p_abnormal,
        "normal": 1.0 - p_abnormal,
        "bacterial": p_pneumonia * cause[:, 0],
        "viral": p_pneumonia * cause[:, 1],
        "covid": p_pneumonia * cause[:, 2],
        "pneumonia": p_pneumonia,
        "cause": cause,
        "zones": sigmoid(raw["zones"] / temperatures["zones"]),
        "lung_extent": LUNG_SCORE_MAX * sigmoid(raw["lung_extent"]),
        "lung_opacity": LUNG_SCORE_MAX * sigmoid(raw["lung_opacity"]),
        "extent": LUNG_SCORE_MAX * sigmoid(raw["lung_extent"]).sum(axis=-1),
    }


def in_band(probability: float, point: dict) -> bool:
    low, high = point["band"]
    return low <= probability < high


def predictions(raw: dict[str, np.ndarray], metadata: dict) -> list[Prediction]:
    probabilities = calibrated_probabilities(raw, metadata)
    points = metadata["operating_points"]
    thresholds = {name: point["threshold"] for name, point in points.items()}
    return [
        Prediction(
            p_abnormal=float(probabilities["abnormal"][i]), p_pneumonia=float(probabilities["pneumonia"][i]),
            p_bacterial=float(probabilities["bacterial"][i]),
            p_viral=float(probabilities["viral"][i]), p_covid=float(probabilities["covid"][i]),
            pneumonia_positive=bool(probabilities["pneumonia"][i] >= thresholds["pneumonia"]),
            covid_positive=bool(probabilities["covid"][i] >= thresholds["covid"]),
            zone_probabilities=tuple(float(p) for p in probabilities["zones"][i]),
            zone_positive=tuple(bool(p >= thresholds["zone"]) for p in probabilities["zones"][i]),
            lung_extent=tuple(float(v) for v in probabilities["lung_extent"][i]),
            lung_opacity=tuple(float(v) for v in probabilities["lung_opacity"][i]),
            pneumonia_borderline=in_band(float(probabilities["pneumonia"][i]), points["pneumonia"]),
            covid_borderline=in_band(float(probabilities["covid"][i]), points["covid"]),
            abnormal_positive=bool(probabilities["abnormal"][i] >= thresholds["abnormal"]),
            abnormal_borderline=in_band(float(probabilities["abnormal"][i]), points["abnormal"]),
            normal_ruleout=bool(probabilities["abnormal"][i] < thresholds["normal_ruleout"]
                                and probabilities["pneumonia"][i] < points["pneumonia"]["band"][0]),
        )
        for i in range(len(probabilities["normal"]))
    ]


def opacity_maps(raw: dict[str, np.ndarray]) -> np.ndarray:
    """(N, g, g) opacity probabilities from the localisation head's flat logits."""
    logits = raw["opacity_map"]
    grid = round(np.sqrt(logits.shape[-1]))
    return sigmoid(logits).reshape(-1, grid, grid)


def embedding_distances(embeddings: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of each embedding from the training distribution."""
    centred = embeddings - mean
    return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", centred, precision, centred), 0.0))


def load_keras_model(path: Path):
    import keras

    if not path.is_file():
        raise ModelUnavailableError(f"model file {path} is missing")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # a corrupt or incompatible file: say which and why
        raise ModelUnavailableError(f"model file {path} could not be read: {error}") from error


def _load_metadata(model_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        with np.load(model_dir / GATE_STATS_FILE) as stats:
            return metadata, {name: stats[name] for name in stats.files}
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailableError(f"model metadata in {model_dir} could not be read: {error}") from error


AVERAGED_HEADS = (ABNORMAL_OUTPUT, PNEUMONIA_OUTPUT, CAUSE_OUTPUT, OPACITY_MAP_OUTPUT)


class ChestXRayModel:
    """Loaded once, then called for any number of images (single or batched).

    `classifiers` is an ensemble of one or more networks of one recipe: their logits are averaged;
    the first one's embedding and stage feature maps feed the input check and the severity model."""

    def __init__(self, classifiers, autoencoder, lungs, severity_model, metadata: dict,
                 gate_stats: dict[str, np.ndarray]):
        import keras
        import tensorflow as tf

        # Grappler's graph rewrites cost ~0.6 s on each function's first call (a third of the app's
        # warm-up) and gave no measurable speed on these small graphs; outputs agree within 3e-6.
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
        self.classifiers = tuple(classifiers)
        self.lungs = lungs
        self.metadata = metadata
        self.gate_stats = gate_stats
        primary = self.classifier
        stage_layers = severity.stage_feature_layers(primary)
        with_features = keras.Model(primary.inputs, [
            primary.get_layer(name).output for name in (*AVERAGED_HEADS, EMBEDDING_LAYER)
        ] + [primary.get_layer(name).output for name in stage_layers])
        companions = [keras.Model(member.inputs, [member.get_layer(name).output for name in AVERAGED_HEADS])
                      for member in self.classifiers[1:]]
        spec = tf.TensorSpec([None, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1], tf.float32)

        @tf.function(input_signature=[spec])
        def lung_probability(images):
            return tf.sigmoid(lungs(images, training=False))[..., 0]

        @tf.function(input_signature=[spec])
        def forward(images):
            heads_and_maps = with_features([images], training=False)
            logits, embedding = heads_and_maps[:len(AVERAGED_HEADS)], heads_and_maps[len(AVERAGED_HEADS)]
            stage_maps = heads_and_maps[len(AVERAGED_HEADS) + 1:]
            for companion in companions:
                logits = [mine + theirs for mine, theirs in zip(logits, companion([images], training=False))]
            abnormal, pneumonia, cause, opacity_map = [summed / len(self.classifiers) for summed in logits]
            thumbnail = tf.nn.avg_pool2d(images, AUTOENCODER_POOL, AUTOENCODER_POOL, "VALID")
            error = tf.reduce_mean(tf.abs(autoencoder(images, training=False) - thumbnail), axis=[1, 2, 3])
            return {"abnormal": abnormal, "pneumonia": pneumonia, "cause": cause, "opacity_map": opacity_map,
                    "embedding": embedding, "reconstruction_error": error}, stage_maps, lung_probability(images)

        map_specs = [tf.TensorSpec([None, *severity_model.inputs[i].shape[1:]], tf.float32)
                     for i in range(len(severity_model.inputs))]

        @tf.function(input_signature=map_specs)
        def severity_forward(*maps_and_weights):
            zones, lung_extent, lung_opacity = severity_model(list(maps_and_weights), training=False)
            return {"zones": zones, "lung_extent": lung_extent, "lung_opacity": lung_opacity}

        self._forward = forward
        self._severity = severity_forward
        self._lung_probability = lung_probability

    @classmethod
    def load(cls, model_dir: Path | str | None = None) -> "ChestXRayModel":
        model_dir = Path(model_dir or default_model_dir())
        metadata, gate_stats = _load_metadata(model_dir)
        classifiers = [load_keras_model(model_dir / classifier_file(member))
                       for member in range(metadata.get(CLASSIFIER_MEMBERS_KEY, 1))]
        return cls(classifiers, load_keras_model(model_dir / AUTOENCODER_FILE),
                   load_keras_model(model_dir / LUNGS_FILE), load_keras_model(model_dir / SEVERITY_FILE),
                   metadata, gate_stats)

    @property
    def classifier(self):
        """The first member: its features feed the severity model and the input check."""
        return self.classifiers[0]

    @property
    def version(self) -> str:
        return model_version(self.metadata)

    def raw_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """inputs: float32 (N, 224, 224, 1). Logits, embeddings and out-of-distribution scores."""
        outputs, stage_maps, lung_probability = self._forward(inputs.astype(np.float32))
        # Zones are placed in NumPy (xraydesk.ai.zones), the one definition the viewer also draws.
        zone_weights = severity.batch_pooling_weights(lung_probability.numpy())
        outputs.update(self._severity(*stage_maps, *zone_weights), lungs=lung_probability)
        return {name: value.numpy() for name, value in outputs.items()}

    def learned_checks(self, raw: dict[str, np.ndarray]) -> list[gate.InputCheck]:
        """The out-of-distribution half of the input check, for each image of `raw_outputs`."""
        distances = embedding_distances(
            raw["embedding"], self.gate_stats["embedding_mean"], self.gate_stats["embedding_precision"])
        return [gate.check_learned(float(error), float(distance), self.metadata["input_check"])
                for error, distance in zip(raw["reconstruction_error"], distances)]

    def analyse_inputs(self, inputs: np.ndarray, prior_checks: list[gate.InputCheck]) -> list[Outcome]:
        """Model inputs plus the header/size checks already made -> one Outcome per image."""
        raw = self.raw_outputs(inputs)
        outcomes = []
        for model_input, prediction, prior, learned, lungs, opacity in zip(
                inputs, predictions(raw, self.metadata), prior_checks, self.learned_checks(raw), raw["lungs"],
                opacity_maps(raw)):
            check = gate.first_refusal(prior, gate.check_pixels(model_input), learned)
            if check.accepted:
                lung_check = check_lung_mask(lung_mask(lungs), model_input[..., 0])
                outcomes.append(Outcome(check, prediction, lungs, lung_check, opacity))
            else:
                outcomes.append(Outcome(check))
        return outcomes

    def analyse_display(self, display: np.ndarray, prior_check: gate.InputCheck = gate.ACCEPTED) -> Outcome:
        return self.analyse_inputs(to_model_input(display)[None], [prior_check])[0]

    def lung_probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 224, 224) probability that each pixel of each model input is lung."""
        return self._lung_probability(inputs.astype(np.float32)).numpy()
