"""From a loaded image to the model's input: the same pixel pipeline as the viewer (what the
model sees is what the radiologist sees), plus the header, colour and size checks. predict, serve and
the app all come through here, so XRayDesk's own result pictures are refused here for all three."""

import numpy as np

from xraydesk.ai import gate
from xraydesk.ai.preprocess import to_model_input
from xraydesk.imaging import XRayImage, render_default
from xraydesk.imaging.header import made_by_xraydesk


def view_position(image: XRayImage) -> str:
    return str(getattr(image.dataset, "ViewPosition", "") or "") if image.dataset is not None else ""


def prepare_image(image: XRayImage) -> tuple[np.ndarray, gate.InputCheck]:
    display = render_default(image)
    check = gate.first_refusal(gate.check_maker(image.dataset is not None and made_by_xraydesk(image.dataset)),
                               gate.check_header(image.keys.modality, image.body_part, view_position(image)),
                               gate.check_color(image.is_color_source), gate.check_size(*display.shape))
    return to_model_input(display), check
