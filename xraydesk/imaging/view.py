"""Explicit, Qt-free view state: window, invert, zoom and pan. Overlays registered to the image
(heatmaps, zones, measurements) use the same image → screen transform."""

from dataclasses import dataclass, replace

from xraydesk.imaging.image import Window

MIN_SCALE = 0.02
MAX_SCALE = 32.0


@dataclass(frozen=True)
class ViewTransform:
    """screen = image * scale + offset (in screen pixels; image pixel centres at +0.5)."""

    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def image_to_screen(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale + self.offset_x, y * self.scale + self.offset_y

    def screen_to_image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.offset_x) / self.scale, (y - self.offset_y) / self.scale

    def zoomed_at(self, factor: float, anchor_x: float, anchor_y: float) -> "ViewTransform":
        """Zoom keeping the image point under the screen anchor (the cursor) in place."""
        scale = min(max(self.scale * factor, MIN_SCALE), MAX_SCALE)
        applied = scale / self.scale
        return ViewTransform(
            scale,
            anchor_x - (anchor_x - self.offset_x) * applied,
            anchor_y - (anchor_y - self.offset_y) * applied,
        )

    def panned(self, dx: float, dy: float) -> "ViewTransform":
        return replace(self, offset_x=self.offset_x + dx, offset_y=self.offset_y + dy)

    def at_scale_about_center(self, scale: float, view_width: float, view_height: float) -> "ViewTransform":
        return self.zoomed_at(scale / self.scale, view_width / 2, view_height / 2)


def fit_transform(image_width: int, image_height: int, view_width: float, view_height: float) -> ViewTransform:
    """The whole image, centred, as large as the view allows."""
    scale = min(view_width / image_width, view_height / image_height)
    scale = min(max(scale, MIN_SCALE), MAX_SCALE)
    return ViewTransform(
        scale, (view_width - image_width * scale) / 2, (view_height - image_height * scale) / 2
    )


@dataclass(frozen=True)
class ViewState:
    window: Window
    invert: bool = False
    transform: ViewTransform = ViewTransform()
    fitted: bool = True  # follow the view size until the user zooms or pans

    @property
    def zoom_percent(self) -> float:
        return self.transform.scale * 100
