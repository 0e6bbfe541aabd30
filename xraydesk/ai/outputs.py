"""Names shared by the training code and the runtime: model files, output heads, classes, zones."""

CLASSIFIER_FILE = "xraydesk-cxr.keras"  # an ensemble's first member: the other models read its features
LUNGS_FILE = "xraydesk-lungs.keras"
AUTOENCODER_FILE = "xraydesk-gate-ae.keras"
SEVERITY_FILE = "xraydesk-severity.keras"
METADATA_FILE = "xraydesk-cxr.json"

CAUSES = ("bacterial", "viral", "covid")
# Labels of data v3: `other_abnormal` is abnormal without a pneumonia-like opacity (RSNA "No Lung
# Opacity / Not Normal"), a negative for pneumonia that is not normal.
NORMAL_LABEL = "normal"
OTHER_ABNORMAL_LABEL = "other_abnormal"
PNEUMONIA_LABELS = ("bacterial", "viral", "covid", "pneumonia_unspecified")
# Patient's right first: R = the viewer's left on a standard PA view.
ZONES = ("RU", "RM", "RL", "LU", "LM", "LL")
BRIXIA_ZONE_COLUMNS = ("A", "B", "C", "D", "E", "F")
EXTENT_MAX = 8.0  # geographic extent and opacity: 0-4 per lung, summed
LUNG_SCORE_MAX = 4.0

ABNORMAL_OUTPUT = "abnormal_logit"  # any abnormality: other_abnormal or any pneumonia
PNEUMONIA_OUTPUT = "pneumonia_logit"
CAUSE_OUTPUT = "cause_logits"
ZONES_OUTPUT = "zone_logits"
EXTENT_OUTPUT = "extent_logit"
LUNG_EXTENT_OUTPUT = "lung_extent_logits"  # severity model: patient's right, left
LUNG_OPACITY_OUTPUT = "lung_opacity_logits"
OPACITY_MAP_OUTPUT = "opacity_map_logits"  # classifier: 14x14, trained on the RSNA boxes
FEATURES_LAYER = "last_conv"
EMBEDDING_LAYER = "embedding"
GATE_STATS_FILE = "xraydesk-gate-stats.npz"
CLASSIFIER_MEMBERS_KEY = "classifier_members"  # metadata: how many classifiers average their logits
_COMPANION_FILE = "xraydesk-cxr-{}.keras"  # every member's file but the first, numbered from 2
COMPANION_FILES = _COMPANION_FILE.format("*")  # their glob


def classifier_file(member: int) -> str:
    """The shipped file of ensemble member `member` (0 is CLASSIFIER_FILE)."""
    return CLASSIFIER_FILE if member == 0 else _COMPANION_FILE.format(member + 1)
