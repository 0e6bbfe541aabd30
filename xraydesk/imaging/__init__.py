"""Loading images and the pixel pipeline, without Qt (the UI imports this, never the reverse).

Loading and scanning (and with them pydicom, about 0.2 s to import) load on first use, so that the
app's window appears without waiting for them: the first file opened loads them in a worker."""

from importlib import import_module

from xraydesk.imaging.display import ImageDisplay, drag_reduction, render_default
from xraydesk.imaging.entries import ERROR, IMAGE, NON_IMAGE, OTHER_FILE, ScanEntry
from xraydesk.imaging.header import format_study_date
from xraydesk.imaging.image import ImageLoadError, Preview, Window, XRayImage, failure_reason
from xraydesk.imaging.view import Orientation, ViewState, ViewTransform, fit_transform

_ON_FIRST_USE = {"MAX_PIXELS": "loading", "load_image": "loading", "scan_paths": "scanning"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return getattr(import_module(f"xraydesk.imaging.{_ON_FIRST_USE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
