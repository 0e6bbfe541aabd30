"""`xraydesk train`: trains the shipped models from the shared data, seeded and resumable.

Four stages, each skipped when its model already exists in the run folder (and each resumed from
its last finished epoch when interrupted): the classifier (with auxiliary severity heads), the lung
segmenter, the input-check autoencoder, and the zone severity model (which reads the first two).
`finalize` then calibrates on val and writes `models/`."""

import json
import logging
import sys
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from xraydesk.training.data import REPO_ROOT

log = logging.getLogger("xraydesk.train")


@dataclass
class TrainConfig:
    seed: int = 20261121
    batch_size: int = 16
    classifier_epochs: int = 16  # 0.2.0: 35 on 6,095 images; v2 has 9,308 and each epoch ~4 min here
    classifier_blocks: tuple[int, ...] = (1, 1, 1, 1)  # per stage; (2, 2, 2, 2) tried: worse on val (model card)
    lungs_epochs: int = 20
    gate_epochs: int = 15
    severity_epochs: int = 100  # at most: early stopping on val ends it sooner
    severity_patience: int = 20
    severity_augmented_copies: int = 2  # augmented views of each training image, besides the original
    severity_batch_size: int = 32
    severity_weight_decay: float = 1e-3  # a 15k-parameter head on ~1,800 images: decay harder
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    loss_weights: dict = field(default_factory=lambda: {
        "abnormal": 1.0, "pneumonia": 1.0, "cause": 1.0, "zones": 0.5, "extent": 0.5, "opacity_map": 1.0})
    # severity model: squared errors of fractions are ~10x smaller than cross-entropies
    severity_loss_weights: dict = field(default_factory=lambda: {"zones": 1.0, "lung_extent": 5.0, "lung_opacity": 5.0})
    sampling_power: float = 0.5  # (source, label) cells weigh size ** power: see data.sampling_weights
    # labels whose films weigh this many times more (then mean 1 again): the negatives a shortcut
    # gets wrong most (other_abnormal films called pneumonia on AP) and the abnormal films a
    # rule-out must not clear
    label_emphasis: dict = field(default_factory=dict)
    # gradient-reversal strength of a head that tries to tell AP from PA on adult films from the
    # embedding (0 = no such head): the backbone is trained to make it fail (Ganin et al. 2016)
    view_adversary: float = 0.0
    # classifiers trained by the same recipe with seeds seed, seed + 1, ...; their logits are averaged
    # (the first one's features feed the severity model, the input check and Grad-CAM's layer choice)
    classifier_members: int = 1
    run_dir: str = str(REPO_ROOT / "runs" / "shipped")
    models_dir: str = str(REPO_ROOT / "models")
    data_root: str | None = None
    max_examples: int | None = None  # for smoke tests: a handful of images

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        return cls(**json.loads(Path(path).read_text()))


def _configure_tensorflow(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def _dataset(images, targets, config: TrainConfig, training: bool, prepare):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, targets))
    if training:
        dataset = dataset.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(config.batch_size, drop_remainder=training and len(images) > config.batch_size)
    dataset = dataset.map(lambda x, y: prepare(x, y, training), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _optimizer(config: TrainConfig, steps: int):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(steps, 1), warmup_target=None)
    return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)


def _fit(model, train, val, epochs: int, stage_dir: Path, extra_callbacks=()):
    import keras

    stage_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(stage_dir / "backup")),
        keras.callbacks.CSVLogger(str(stage_dir / "history.csv"), append=True),
        *extra_callbacks,
    ]
    model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks, shuffle=False,
              verbose=1 if sys.stderr.isatty() else 2)


def _split(examples, split: str):
    return [e for e in examples if e.split == split]


CLASSIFIER_HEADS = ("abnormal", "pneumonia", "cause", "zones", "extent", "opacity_map")


def classifier_targets(subset, power: float, label_emphasis: dict | None = None) -> dict[str, np.ndarray]:
    """The classifier's targets, with the sampling weights packed beside the labels they weigh, and
    the adult films' view (1 AP, 0 PA, MISSING otherwise) for the view adversary."""
    from xraydesk.training import data, losses

    targets = data.targets(subset)
    weights = data.sampling_weights(subset, power)
    weights *= np.array([(label_emphasis or {}).get(e.label, 1.0) for e in subset], np.float32)
    weights = (weights / weights.mean())[:, None] if len(weights) else weights[:, None]
    cause = np.where(targets.pop("not_covid")[:, None], losses.NOT_COVID, targets["cause"])
    for name in ("abnormal", "pneumonia"):
        targets[name] = np.concatenate([targets[name], weights], axis=1)
    targets["cause"] = np.concatenate([cause, weights], axis=1).astype(np.float32)
    targets["view"] = np.array([[{"AP": 1.0, "PA": 0.0}.get(e.view_group, data.MISSING)
                                 if e.age_group == "adult" else data.MISSING] for e in subset], np.float32)
    return {name: targets[name] for name in (*CLASSIFIER_HEADS, "view")}


def train_classifier(config: TrainConfig, examples, out: Path, member: int = 0) -> None:
    """Member 0 is the primary classifier; member k is the same recipe with seed + k."""
    import tensorflow as tf

    from xraydesk.ai import outputs
    from xraydesk.training import architecture, augment, data, losses

    config = replace(config, seed=config.seed + member)
    _configure_tensorflow(config.seed)
    augmenter = augment.geometric_augmenter(config.seed)
    head_of = {"abnormal": outputs.ABNORMAL_OUTPUT, "pneumonia": outputs.PNEUMONIA_OUTPUT,
               "cause": outputs.CAUSE_OUTPUT,
               "zones": outputs.ZONES_OUTPUT, "extent": outputs.EXTENT_OUTPUT,
               "opacity_map": outputs.OPACITY_MAP_OUTPUT, "view": architecture.VIEW_ADVERSARY_OUTPUT}
    heads = (*CLASSIFIER_HEADS, "view") if config.view_adversary else CLASSIFIER_HEADS

    def prepare(x, y, training):
        x = tf.cast(x, tf.float32) / 255.0
        if training:
            # the box targets are not moved with the image: shifts stay within one 16-pixel cell
            x = augmenter(x, training=True)
            x = augment.jitter_intensity(augment.degrade_resolution(augment.burn_in_marks(x)))
        return x, {head_of[name]: y[name] for name in heads}

    def arrays(split):
        subset = _split(examples, split)
        return (data.model_inputs(subset, config.data_root),
                classifier_targets(subset, config.sampling_power, config.label_emphasis))

    train_x, train_y = arrays("train")
    val_x, val_y = arrays("val")
    model = architecture.build_classifier(blocks=tuple(config.classifier_blocks))
    # the adversary is trained beside the classifier and left out of the saved file
    trained = architecture.with_view_adversary(model, config.view_adversary) if config.view_adversary else model
    steps = config.classifier_epochs * max(len(train_x) // config.batch_size, 1)
    trained.compile(
        optimizer=_optimizer(config, steps),
        loss={head_of["abnormal"]: losses.weighted_binary_crossentropy,
              head_of["pneumonia"]: losses.weighted_binary_crossentropy,
              head_of["cause"]: losses.cause_crossentropy_with_partial_labels,
              head_of["zones"]: losses.masked_binary_crossentropy,
              head_of["extent"]: losses.masked_binary_crossentropy,
              head_of["opacity_map"]: losses.masked_binary_crossentropy,
              **({head_of["view"]: losses.masked_binary_crossentropy} if config.view_adversary else {})},
        loss_weights={head_of[name]: config.loss_weights.get(name, 1.0) for name in heads},
    )
    _fit(trained, _dataset(train_x, train_y, config, True, prepare),
         _dataset(val_x, val_y, config, False, prepare), config.classifier_epochs, out.parent / out.stem)
    model.save(out)


def train_lung_segmenter(config: TrainConfig, examples, out: Path) -> None:
    import tensorflow as tf

    from xraydesk.training import architecture, augment, data, losses

    _configure_tensorflow(config.seed)
    augmenter = augment.geometric_augmenter(config.seed)

    def prepare(x, y, training):
        stacked = tf.cast(tf.concat([x, y], axis=-1), tf.float32)
        if training:
            stacked = augmenter(stacked, training=True)
        image, mask = stacked[..., :1] / 255.0, tf.cast(stacked[..., 1:] >= 0.5, tf.float32)
        return (augment.jitter_intensity(image) if training else image), mask

    def arrays(split):
        subset = [e for e in _split(examples, split) if e.lung_mask]
        return data.model_inputs(subset, config.data_root), data.lung_masks(subset, config.data_root)

    train_x, train_y = arrays("train")
    val_x, val_y = arrays("val")
    model = architecture.build_lung_segmenter()
    steps = config.lungs_epochs * max(len(train_x) // config.batch_size, 1)
    model.compile(optimizer=_optimizer(config, steps), loss=losses.dice_and_binary_crossentropy)
    _fit(model, _dataset(train_x, train_y, config, True, prepare),
         _dataset(val_x, val_y, config, False, prepare), config.lungs_epochs, out.parent / "lungs")
    model.save(out)


def train_gate_autoencoder(config: TrainConfig, examples, out: Path) -> None:
    import tensorflow as tf

    from xraydesk.training import architecture, augment, data

    _configure_tensorflow(config.seed)
    pool = 224 // architecture.AUTOENCODER_SIZE

    def prepare(x, _unused, training):
        x = tf.cast(x, tf.float32) / 255.0
        if training:
            x = augment.jitter_intensity(x)
        return x, tf.nn.avg_pool2d(x, pool, pool, "VALID")

    def arrays(split):
        images = data.model_inputs(_split(examples, split), config.data_root)
        return images, images  # the target is the input's thumbnail, made in `prepare`

    model = architecture.build_gate_autoencoder()
    train_x, train_y = arrays("train")
    steps = config.gate_epochs * max(len(train_x) // config.batch_size, 1)
    model.compile(optimizer=_optimizer(config, steps), loss="mae")
    _fit(model, _dataset(train_x, train_y, config, True, prepare),
         _dataset(*arrays("val"), config, False, prepare), config.gate_epochs, out.parent / "gate")
    model.save(out)


def _zone_features(classifier, lungs, images, augment_views=None, batch: int = 64) -> np.ndarray:
    """(N, 6, D) features pooled within each zone of each image, as the shipped severity model
    pools them; with `augment_views`, of an augmented view of each image (zones follow, because
    the lung mask is predicted on the augmented view)."""
    import tensorflow as tf

    from xraydesk.ai import severity
    from xraydesk.ai.model import sigmoid
    from xraydesk.training import architecture

    maps_model = severity.stage_maps_model(classifier)
    pooling = architecture.build_zone_pooling(severity.stage_map_shapes(classifier))
    chunks = []
    for start in range(0, len(images), batch):
        views = tf.constant(images[start:start + batch].astype(np.float32) / 255.0)
        if augment_views is not None:
            views = augment_views(views)
        lung_probability = sigmoid(lungs.predict_on_batch(views))[..., 0]
        maps = maps_model.predict_on_batch(views)
        chunks.append(pooling.predict_on_batch([*maps, *severity.batch_pooling_weights(lung_probability)]))
    return np.concatenate(chunks)


def train_severity_model(config: TrainConfig, examples, out: Path) -> None:
    """A small network on zone-pooled features of the frozen classifier (see architecture)."""
    import keras

    from xraydesk.ai import outputs, severity
    from xraydesk.ai.model import load_keras_model
    from xraydesk.training import architecture, augment, data, losses

    _configure_tensorflow(config.seed)
    classifier = load_keras_model(out.parent / "classifier.keras")
    lungs = load_keras_model(out.parent / "lungs.keras")
    augmenter = augment.geometric_augmenter(config.seed)

    def augment_views(images):
        return augment.jitter_intensity(augmenter(images, training=True))

    labelled = [e for e in examples if e.zones is not None or e.extent is not None or e.lung_extent is not None]
    train_set = _split(labelled, "train")
    # Stop on the images the severity figures are reported on: pneumonias with a reading.
    val_set = [e for e in _split(labelled, "val") if e.is_pneumonia]
    train_images = data.model_inputs(train_set, config.data_root)
    train_x = np.concatenate([_zone_features(classifier, lungs, train_images)] + [
        _zone_features(classifier, lungs, train_images, augment_views)
        for _ in range(config.severity_augmented_copies)])
    val_x = _zone_features(classifier, lungs, data.model_inputs(val_set, config.data_root))
    output_of = {"zones": outputs.ZONES_OUTPUT, "lung_extent": outputs.LUNG_EXTENT_OUTPUT,
                 "lung_opacity": outputs.LUNG_OPACITY_OUTPUT}

    def targets(subset, copies):
        values = data.targets(subset)
        return {output: np.tile(values[name], (copies, 1)) for name, output in output_of.items()}

    head = architecture.build_severity_head(train_x.shape[-1])
    head.compile(optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=config.severity_weight_decay),
                 loss={outputs.ZONES_OUTPUT: losses.masked_binary_crossentropy,
                       outputs.LUNG_EXTENT_OUTPUT: losses.lung_scores_squared_error,
                       outputs.LUNG_OPACITY_OUTPUT: losses.lung_scores_squared_error},
                 loss_weights={output_of[name]: weight for name, weight in config.severity_loss_weights.items()})
    stop = keras.callbacks.EarlyStopping(patience=config.severity_patience, restore_best_weights=True)
    batches = replace(config, batch_size=config.severity_batch_size)
    _fit(head, _dataset(train_x, targets(train_set, 1 + config.severity_augmented_copies), batches, True,
                        lambda x, y, training: (x, y)),
         _dataset(val_x, targets(val_set, 1), batches, False, lambda x, y, training: (x, y)),
         config.severity_epochs, out.parent / "severity", [stop])
    # An uncompiled copy: a nested model would carry its compile config (the custom losses) into
    # the file, which the runtime's safe-mode load cannot resolve.
    shipped_head = architecture.build_severity_head(train_x.shape[-1])
    shipped_head.set_weights(head.get_weights())
    pooling = architecture.build_zone_pooling(severity.stage_map_shapes(classifier))
    architecture.build_severity_model(pooling, shipped_head).save(out)


def member_file(member: int) -> str:
    """The run folder's file of classifier `member` (0: the primary)."""
    return "classifier.keras" if member == 0 else f"classifier-{member + 1}.keras"


def stages(config: TrainConfig):
    companions = [(member_file(member), partial(train_classifier, member=member))
                  for member in range(1, config.classifier_members)]
    return (("classifier.keras", train_classifier), *companions,
            ("lungs.keras", train_lung_segmenter),
            ("gate.keras", train_gate_autoencoder),
            ("severity.keras", train_severity_model))


def train(config: TrainConfig) -> Path:
    from xraydesk.training import data

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))
    examples = data.load_examples(config.data_root)
    if config.max_examples:
        examples = _small_sample(examples, config.max_examples)
    for file_name, stage in stages(config):
        if (run_dir / file_name).exists():
            log.info("%s exists, skipping that stage", run_dir / file_name)
            continue
        log.info("training %s", file_name)
        stage(config, examples, run_dir / file_name)
    return run_dir


def _small_sample(examples, per_split: int):
    """A few images of each split, with masks, severity readings, boxes and partial cause labels
    among them, for smoke tests."""
    kinds = (lambda e: e.lung_mask and e.zones and e.is_pneumonia,
             lambda e: e.boxes, lambda e: e.lung_extent and e.is_pneumonia, lambda e: e.known_not_covid,
             lambda e: e.is_abnormal and not e.is_pneumonia)
    chosen = []
    for split in ("train", "val", "test"):
        subset = _split(examples, split)
        labelled = [e for kind in kinds for e in [e for e in subset if kind(e)][: max(per_split // 8, 1)]]
        labelled = list(dict.fromkeys(labelled))
        chosen += labelled + [e for e in subset if e not in labelled][: max(per_split - len(labelled), 0)]
    return chosen
