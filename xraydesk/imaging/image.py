"""The in-memory image model shared by the viewer, the AI and the batch commands (no Qt)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xraydesk.imaging.study_keys import StudyKeys

if TYPE_CHECKING:  # pydicom loads with the first image, not at start-up
    from pydicom.dataset import Dataset


class ImageLoadError(Exception):
    """An image could not be opened; str() names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


def failure_reason(error: Exception) -> str:
    """Why an image could not be used: the loader's reason, or an unforeseen error's type and words."""
    return error.reason if isinstance(error, ImageLoadError) else f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class Window:
    """A VOI transform in modality units. With `voi_lut_index` set, the header's VOI LUT
    Sequence item of that index is applied, and center/width only describe its input range."""

    center: float
    width: float
    function: str = "LINEAR"
    label: str = ""
    voi_lut_index: int | None = None

    def caption(self) -> str:
        return f"WC {self.center:g}  WW {self.width:g}  {self.label}".rstrip()

    def adjusted(self, center: float, width: float, label: str = "Manual") -> "Window":
        """The same VOI function with a new center/width (a VOI LUT turns into a window)."""
        return Window(center, max(width, 1.0), self.function, label)


@dataclass
class XRayImage:
    """One decoded image. `pixels` holds modality values (after the Modality LUT) at full bit
    depth; display mapping happens in `display.ImageDisplay`."""

    path: Path
    pixels: np.ndarray
    source_format: str  # "DICOM", "PNG" or "JPEG"
    bits_stored: int
    keys: StudyKeys = StudyKeys()  # who and what the image is, as the scan read it
    body_part: str = ""
    is_color_source: bool = False
    presentation_inverted: bool = False
    header_windows: list[Window] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    dataset: "Dataset | None" = None
    pixel_spacing: tuple[float, float] | None = None
    imager_pixel_spacing: tuple[float, float] | None = None
    frame_count: int = 1

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


@dataclass(frozen=True)
class Preview:
    """A reduced-resolution decode, shown until the full image is ready. `image.pixels` hold the
    full image's modality values (the same pipeline), one per `reduction` x `reduction` block of
    it: the preview is the full size divided by `reduction`, rounded up."""

    image: XRayImage
    reduction: int
    full_width: int
    full_height: int
