"""Mapping modality values to 8-bit display values (no Qt): VOI (window or VOI LUT) and then the
presentation inversion, through a lookup table so that a window/level change costs one table
lookup per pixel instead of float arithmetic over the whole image. While window/level is dragged,
the lookup may run on a halved copy (each pixel the mean of a 2 x 2 block, as many halvings as
keep a pixel per screen pixel): a quarter of the work per halving."""

import numpy as np

from xraydesk.imaging.image import Window, XRayImage

# Percentiles of the automatic window: the clinically used range without collimator edges,
# burned-in labels and detector saturation.
AUTO_PERCENTILES = (0.5, 99.5)
# The lung preset stretches contrast over the darker (air-containing) part of the histogram.
LUNG_PERCENTILES = (2.0, 60.0)
CT_LUNG_WINDOW = (-600.0, 1500.0)
# Statistics are taken on every STATISTICS_STRIDE-th pixel in each direction: percentiles of a
# 4-megapixel image cost ~100 ms, the subsample gives the same window within a grey level.
STATISTICS_STRIDE = 4
LUT_LEVELS = 2**16
# Dragging the whole viewport width changes the window by about the full data range.
DRAG_PIXELS_PER_RANGE = 600.0


class ImageDisplay:
    """Display mapping of one image. `render(window, invert)` is the only per-update work."""

    def __init__(self, image: XRayImage):
        self.image = image
        self.minimum = float(image.pixels.min())
        self.maximum = float(image.pixels.max())
        self._sample = image.pixels[::STATISTICS_STRIDE, ::STATISTICS_STRIDE]
        self.step = self._level_step()
        self.levels = self.minimum + self.step * np.arange(self._level_count(), dtype=np.float64)
        self.index = np.rint((image.pixels - self.minimum) / self.step).astype(np.uint16)
        self._halvings = [self.index]  # the index halved 0, 1, 2… times, made on first need

    def _level_step(self) -> float:
        """1 for integer data (exact); finer data is quantised to LUT_LEVELS levels."""
        value_range = self.maximum - self.minimum
        if value_range < LUT_LEVELS and np.array_equal(self._sample, np.rint(self._sample)):
            return 1.0
        return max(value_range, 1.0) / (LUT_LEVELS - 1)

    def _level_count(self) -> int:
        return round((self.maximum - self.minimum) / self.step) + 1

    # ------------------------------------------------------------ windows

    def default_window(self) -> Window:
        """What the viewer shows first: the header's VOI; else a PNG/JPEG as stored, scaled from the
        bit depth its values use to 8 bits (the same pixels at 8 or 16 bits look, and reach the model,
        alike); else 8-bit DICOM as stored; else auto."""
        if self.image.header_windows:
            return self.image.header_windows[0]
        if self.image.source_format != "DICOM":
            return self.stored_window(max(8, int(self.maximum).bit_length()))
        if self.image.bits_stored <= 8:
            return self.stored_window(8)
        return self.auto_window()

    @staticmethod
    def stored_window(bits: int) -> Window:
        """0 .. 2**bits - 1 onto 0..255: LINEAR_EXACT with center (2**bits - 1) / 2 and width
        2**bits - 1 maps 0..255 onto itself at 8 bits."""
        top = 2.0**bits - 1
        return Window(top / 2, top, "LINEAR_EXACT", "As stored")

    def auto_window(self) -> Window:
        return self._percentile_window(AUTO_PERCENTILES, "Auto")

    def full_range_window(self) -> Window:
        return self._window_between(self.minimum, self.maximum, "Full range")

    def lung_window(self) -> Window:
        return self.preset_window(CT_LUNG_WINDOW, LUNG_PERCENTILES, "Lung")

    def preset_window(self, ct_window: tuple[float, float], film_percentiles: tuple[float, float],
                      label: str) -> Window:
        """A preset: a CT image gets `ct_window` (center, width in Hounsfield units, its modality values);
        any other image has no calibrated units, so it gets the window between the `film_percentiles`
        of its own values (turned round when the presentation stores air bright)."""
        if self.image.keys.modality == "CT":
            return Window(*ct_window, label=label)
        low, high = film_percentiles
        if self.image.presentation_inverted:  # air is stored bright
            low, high = 100 - high, 100 - low
        return self._percentile_window((low, high), label)

    def _percentile_window(self, percentiles: tuple[float, float], label: str) -> Window:
        lower, upper = np.percentile(self._sample, percentiles)
        return self._window_between(float(lower), float(upper), label)

    def _window_between(self, lower: float, upper: float, label: str) -> Window:
        function = self.default_function()
        if function == "LINEAR_EXACT":
            return Window((lower + upper) / 2, max(upper - lower, 1.0), function, label)
        # LINEAR maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] to the output range.
        return Window((lower + upper + 1) / 2, max(upper - lower + 1, 1.0), function, label)

    def default_function(self) -> str:
        functions = [w.function for w in self.image.header_windows if w.voi_lut_index is None]
        return functions[0] if functions else "LINEAR_EXACT"

    def dragged_window(self, start: Window, dx: float, dy: float) -> Window:
        """Right/left widens/narrows the window, down/up raises/lowers the level (the usual
        PACS convention)."""
        per_pixel = max(self.maximum - self.minimum, 1.0) / DRAG_PIXELS_PER_RANGE
        return start.adjusted(start.center + dy * per_pixel, start.width + dx * per_pixel)

    # ------------------------------------------------------------ rendering

    def lookup_table(self, window: Window, invert: bool = False) -> np.ndarray:
        """uint8 display value for every level. Inverts when exactly one of the presentation
        (MONOCHROME1/INVERSE) and the user's invert asks for it."""
        if window.voi_lut_index is not None:
            values = self._voi_lut_values(window.voi_lut_index)
        else:
            from pydicom.pixels import apply_windowing  # loaded by then: the image came through pydicom's loader

            values = apply_windowing(self.levels, _window_dataset(window))
        table = np.rint(values).astype(np.uint8)
        if self.image.presentation_inverted != invert:
            np.subtract(255, table, out=table)
        return table

    def _voi_lut_values(self, index: int) -> np.ndarray:
        """pydicom's VOI LUT output rescaled to 0..255 (its range depends on the LUT's bit depth)."""
        from pydicom.pixels import apply_voi

        values = apply_voi(np.rint(self.levels).astype(np.int64), self.image.dataset, index).astype(np.float64)
        low, high = values.min(), values.max()
        return (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)

    def render(self, window: Window, invert: bool = False, reduction: int = 1) -> np.ndarray:
        """uint8 display values; `reduction` (a power of two) shrinks the image by that factor in
        each direction (sizes rounded up; each value the mean level of its block)."""
        return self.lookup_table(window, invert)[self._reduced_index(reduction)]

    def _reduced_index(self, reduction: int) -> np.ndarray:
        halvings = reduction.bit_length() - 1
        while len(self._halvings) <= halvings:
            self._halvings.append(_halved(self._halvings[-1]))
        return self._halvings[halvings]


def _halved(index: np.ndarray) -> np.ndarray:
    """Means of 2 x 2 blocks (rounded); an odd last row or column is repeated to fill its blocks."""
    rows, columns = index.shape
    if rows % 2 or columns % 2:
        index = np.pad(index, ((0, rows % 2), (0, columns % 2)), mode="edge")
    total = index[0::2, 0::2].astype(np.uint32)
    for block_row, block_column in ((0, 1), (1, 0), (1, 1)):
        total += index[block_row::2, block_column::2]
    return ((total + 2) // 4).astype(np.uint16)


def drag_reduction(screen_pixels_per_pixel: float) -> int:
    """The largest power of two an image shown at this scale can shrink by and keep at least one
    pixel per screen pixel."""
    reduction = 1
    while reduction * 2 * screen_pixels_per_pixel <= 1:
        reduction *= 2
    return reduction


def _window_dataset(window: Window):
    """The minimal data set pydicom's apply_windowing reads; 8 unsigned bits make its output
    range 0..255."""
    from pydicom.dataset import Dataset

    dataset = Dataset()
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsStored = 8
    dataset.PixelRepresentation = 0
    dataset.WindowCenter = window.center
    dataset.WindowWidth = window.width
    dataset.VOILUTFunction = window.function
    return dataset


def render_default(image: XRayImage) -> np.ndarray:
    """The image exactly as the viewer first shows it (default window, no user invert), uint8."""
    display = ImageDisplay(image)
    return display.render(display.default_window())
