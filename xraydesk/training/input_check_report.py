"""How the input check treats things that are not chest X-rays: the shared non-chest DICOMs,
synthetic blank/noise/document/gradient images, and (when scikit-image is installed) its
sample photographs."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from xraydesk.ai import gate
from xraydesk.ai.inputs import prepare_image
from xraydesk.ai.preprocess import to_model_input
from xraydesk.imaging import load_image
from xraydesk.training.data import default_data_root


def synthetic_non_chest_images(seed: int = 0) -> dict[str, np.ndarray]:
    """uint8 displays of things a user might open by mistake."""
    rng = np.random.default_rng(seed)
    document = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(document)
    for row in range(40, 1060, 28):
        draw.text((60, row), "Report: lorem ipsum dolor sit amet, consectetur adipiscing elit " * 2, fill=0)
    gradient = np.tile(np.linspace(0, 255, 512, dtype=np.float32), (512, 1)).astype(np.uint8)
    return {
        "blank-black": np.zeros((512, 512), np.uint8),
        "blank-white": np.full((512, 512), 255, np.uint8),
        "uniform-noise": rng.integers(0, 256, (512, 512), dtype=np.uint8),
        "gaussian-noise": np.clip(rng.normal(128, 40, (512, 512)), 0, 255).astype(np.uint8),
        "text-document": np.asarray(document),
        "gradient": gradient,
        "checkerboard": (np.indices((512, 512)).sum(axis=0) // 32 % 2 * 255).astype(np.uint8),
    }


def sample_photographs() -> dict[str, np.ndarray]:
    """scikit-image's bundled sample images (only those shipped in its wheel)."""
    try:
        from skimage import data as samples
    except ImportError:
        return {}
    photos = {}
    for name in ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "horse",
                 "text", "clock", "hubble_deep_field", "immunohistochemistry", "retina", "grass", "gravel"):
        try:
            picture = np.asarray(getattr(samples, name)())
        except Exception:  # a sample that would need a download is simply not part of the check
            continue
        if picture.dtype == bool:
            picture = picture.astype(np.uint8) * 255
        photos[f"skimage-{name}"] = np.asarray(Image.fromarray(picture).convert("L"))
    return photos


def input_check_report(model, data_root=None) -> dict:
    cases = {}
    for path in sorted((Path(data_root or default_data_root()) / "dicom" / "nonchest").glob("*.dcm")):
        model_input, header_check = prepare_image(load_image(path))
        header_free = model.analyse_inputs(model_input[None], [gate.ACCEPTED])[0].check
        with_header = gate.first_refusal(header_check, header_free)
        cases[path.name] = {"refused": not with_header.accepted, "reason": with_header.reason,
                            "refused_from_pixels_alone": not header_free.accepted,
                            "pixels_alone_reason": header_free.reason}
    for name, display in {**synthetic_non_chest_images(), **sample_photographs()}.items():
        check = model.analyse_inputs(to_model_input(display)[None], [gate.ACCEPTED])[0].check
        cases[name] = {"refused": not check.accepted, "reason": check.reason}
    accepted = [name for name, case in cases.items() if not case["refused"]]
    return {"n": len(cases), "accepted": accepted, "accepted_share": len(accepted) / len(cases), "cases": cases}
