"""Explicit, Qt-free view state: window, invert, zoom, pan, rotation and flips. Overlays registered to
the image (heatmaps, zones, measurements) use the same image → screen transform, so they follow every
change of the view; rotation and flips are display only, the stored image (and what the AI sees) stays
as it is."""

from dataclasses import dataclass, replace

from xraydesk.imaging.image import Window

MIN_SCALE = 0.02
MAX_SCALE = 32.0
# The image direction (x, y) on screen after 0, 1, 2, 3 clockwise quarter turns, as the matrix
# (a, b, c, d): screen (a*x + b*y, c*x + d*y). Screen y points down, so clockwise takes right to down.
QUARTER_TURN_MATRICES = ((1, 0, 0, 1), (0, -1, 1, 0), (-1, 0, 0, -1), (0, 1, -1, 0))


@dataclass(frozen=True)
class Orientation:
    """How the stored image is shown: turned `quarter_turns` times clockwise, then mirrored on screen.
    Both flips at once are a half turn, so at most one flip is ever set."""

    quarter_turns: int = 0
    flip_horizontal: bool = False
    flip_vertical: bool = False

    @property
    def matrix(self) -> tuple[int, int, int, int]:
        a, b, c, d = QUARTER_TURN_MATRICES[self.quarter_turns % 4]
        if self.flip_horizontal:
            a, b = -a, -b
        if self.flip_vertical:
            c, d = -c, -d
        return a, b, c, d

    def rotated(self, clockwise_turns: int) -> "Orientation":
        """Turned on screen. A mirror reverses the sense of a turn made after it (R·F = F·R⁻¹)."""
        mirrored = self.flip_horizontal != self.flip_vertical
        return replace(self, quarter_turns=(self.quarter_turns + (-clockwise_turns if mirrored else clockwise_turns)) % 4)

    def flipped(self, horizontal: bool) -> "Orientation":
        """Mirrored on screen: left-right (`horizontal`) or top-bottom."""
        flip_horizontal = self.flip_horizontal != horizontal
        flip_vertical = self.flip_vertical != (not horizontal)
        if flip_horizontal and flip_vertical:
            return Orientation((self.quarter_turns + 2) % 4)
        return Orientation(self.quarter_turns, flip_horizontal, flip_vertical)

    def captions(self) -> list[str]:
        """Corner text for a display that differs from the stored image."""
        lines = [f"Rotated {90 * self.quarter_turns}°"] if self.quarter_turns else []
        if self.flip_horizontal:
            lines.append("Flipped H")
        if self.flip_vertical:
            lines.append("Flipped V")
        return lines


UPRIGHT = Orientation()


@dataclass(frozen=True)
class ViewTransform:
    """screen = orientation(image) * scale + offset (in screen pixels; image pixel centres at +0.5)."""

    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0
    orientation: Orientation = UPRIGHT

    def matrix(self) -> tuple[float, float, float, float, float, float]:
        """(a, b, c, d, e, f): screen x = a*x + b*y + e, screen y = c*x + d*y + f."""
        a, b, c, d = (value * self.scale for value in self.orientation.matrix)
        return a, b, c, d, self.offset_x, self.offset_y

    def image_to_screen(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d = self.orientation.matrix
        return (a * x + b * y) * self.scale + self.offset_x, (c * x + d * y) * self.scale + self.offset_y

    def screen_to_image(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d = self.orientation.matrix  # orthogonal: the inverse is the transpose
        u, v = (x - self.offset_x) / self.scale, (y - self.offset_y) / self.scale
        return a * u + c * v, b * u + d * v

    def zoomed_at(self, factor: float, anchor_x: float, anchor_y: float) -> "ViewTransform":
        """Zoom keeping the image point under the screen anchor (the cursor) in place."""
        scale = min(max(self.scale * factor, MIN_SCALE), MAX_SCALE)
        applied = scale / self.scale
        return replace(self, scale=scale, offset_x=anchor_x - (anchor_x - self.offset_x) * applied,
                       offset_y=anchor_y - (anchor_y - self.offset_y) * applied)

    def panned(self, dx: float, dy: float) -> "ViewTransform":
        return replace(self, offset_x=self.offset_x + dx, offset_y=self.offset_y + dy)

    def at_scale_about_center(self, scale: float, view_width: float, view_height: float) -> "ViewTransform":
        return self.zoomed_at(scale / self.scale, view_width / 2, view_height / 2)

    def reoriented(self, orientation: Orientation, anchor_x: float, anchor_y: float) -> "ViewTransform":
        """A new orientation keeping the image point under the screen anchor (the view's centre) in place."""
        x, y = self.screen_to_image(anchor_x, anchor_y)
        turned = replace(self, orientation=orientation, offset_x=0.0, offset_y=0.0)
        screen_x, screen_y = turned.image_to_screen(x, y)
        return turned.panned(anchor_x - screen_x, anchor_y - screen_y)


def fit_transform(image_width: int, image_height: int, view_width: float, view_height: float,
                  orientation: Orientation = UPRIGHT) -> ViewTransform:
    """The whole image, turned as asked, centred, as large as the view allows."""
    a, b, c, d = orientation.matrix
    corners = [(0, 0), (image_width, 0), (0, image_height), (image_width, image_height)]
    xs = [a * x + b * y for x, y in corners]
    ys = [c * x + d * y for x, y in corners]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    scale = min(view_width / width, view_height / height)
    scale = min(max(scale, MIN_SCALE), MAX_SCALE)
    return ViewTransform(scale, (view_width - width * scale) / 2 - min(xs) * scale,
                         (view_height - height * scale) / 2 - min(ys) * scale, orientation)


@dataclass(frozen=True)
class ViewState:
    window: Window
    invert: bool = False
    transform: ViewTransform = ViewTransform()
    fitted: bool = True  # follow the view size until the user zooms or pans

    @property
    def zoom_percent(self) -> float:
        return self.transform.scale * 100
