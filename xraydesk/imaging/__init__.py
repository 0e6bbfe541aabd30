"""Loading images and the pixel pipeline, without Qt (the UI imports this, never the reverse)."""

from xraydesk.imaging.display import ImageDisplay, drag_reduction, render_default
from xraydesk.imaging.header import format_study_date
from xraydesk.imaging.image import ImageLoadError, Window, XRayImage, failure_reason
from xraydesk.imaging.loading import MAX_PIXELS, Preview, load_image
from xraydesk.imaging.scanning import (
    ERROR,
    IMAGE,
    NON_IMAGE,
    OTHER_FILE,
    ScanEntry,
    scan_paths,
)
from xraydesk.imaging.view import Orientation, ViewState, ViewTransform, fit_transform

__all__ = [
    "ERROR",
    "IMAGE",
    "MAX_PIXELS",
    "NON_IMAGE",
    "OTHER_FILE",
    "ImageDisplay",
    "ImageLoadError",
    "Orientation",
    "Preview",
    "ScanEntry",
    "ViewState",
    "ViewTransform",
    "Window",
    "XRayImage",
    "drag_reduction",
    "failure_reason",
    "fit_transform",
    "format_study_date",
    "load_image",
    "render_default",
    "scan_paths",
]
