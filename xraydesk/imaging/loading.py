"""Opening PNG, JPEG and DICOM files into `XRayImage` (no Qt). Files are only ever read."""

import errno
import io
import os
import stat
import threading
import warnings
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from math import ceil
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
)

from xraydesk.imaging.decoding import first_frame, reduced_first_frame, reducible
from xraydesk.imaging.image import ImageLoadError, Preview, Window, XRayImage
from xraydesk.imaging.study_keys import header_keys, plain_image_keys

# 8192 x 8192: far above any radiograph (a 43x43 cm detector at 0.1 mm is 4300 x 4300), low enough
# that a float32 copy (256 MB) still fits in memory.
MAX_PIXELS = 8192 * 8192
# A file is read whole by the decoders: refuse one far above the largest image the limit above lets
# through (128 MiB at 16 bits a pixel) before reading it.
MAX_FILE_BYTES = 2**30
# A deflated DICOM data set is inflated up to this size (the largest image at 32 bits a pixel), so
# that a small file inflating to gigabytes (a zip bomb) is refused instead of filling the memory.
MAX_INFLATED_BYTES = 4 * MAX_PIXELS
INFLATE_STEP = 2**20

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
DICOM_EXTENSIONS = {".dcm", ".dicom", ".dic", ""}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg"}

# warnings.catch_warnings swaps process-wide state; images load in several threads at once.
_WARNINGS_LOCK = threading.Lock()


@contextmanager
def warnings_silenced():
    """Warnings off (pydicom's about values that break their VR's rules, met as a data set is read
    element by element), without disturbing the loads in other threads."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield

# ITU-R BT.601 luma, the weights Pillow's convert("L") uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# A preview is decoded first only where the full decode is slow: above 2 megapixels (a 2000 x 2000
# JPEG 2000 film decodes in ~0.7 s, its half-size preview in ~0.2 s; 1024 x 1024 in ~0.1 s whole).
PREVIEW_MIN_PIXELS = 2**21
# The preview is halved as often as its longer side stays at least this long.
PREVIEW_MIN_SIDE = 512


def load_image(path: str | Path, on_preview: Callable[[Preview], None] | None = None) -> XRayImage:
    """Open a PNG, JPEG or DICOM file. Raises ImageLoadError naming the file and the reason.
    `on_preview` is called (in this thread) with a Preview before the full decode where that is
    much faster: large JPEG 2000 and baseline JPEG DICOM images."""
    path = Path(path)
    try:
        signature = _read_signature(path)
        if signature.startswith((PNG_SIGNATURE, JPEG_SIGNATURE)):
            return _load_pillow(path)
        return _load_dicom(path, on_preview)
    except ImageLoadError:
        raise
    except MemoryError as exc:
        raise ImageLoadError(path, "not enough memory to decode the image") from exc
    except Exception as exc:
        raise ImageLoadError(path, f"cannot decode the image ({type(exc).__name__}: {exc})") from exc


def _read_signature(path: Path) -> bytes:
    check_regular_file(path)
    try:
        with path.open("rb") as stream:
            signature = stream.read(8)
    except PermissionError as exc:
        raise ImageLoadError(path, "permission denied (file is not readable)") from exc
    if not signature:
        raise ImageLoadError(path, "file is empty (0 bytes)")
    return signature


NOT_REGULAR = {stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISCHR: "a character device",
               stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


def check_regular_file(path: Path) -> None:
    """ImageLoadError unless `path` is (or links to) a regular file within MAX_FILE_BYTES. Checked
    before opening: opening a FIFO blocks, and /dev/zero never ends."""
    try:
        status = os.stat(path)
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "broken symbolic link" if path.is_symlink() else "file not found") from exc
    except OSError as exc:
        reason = "symbolic link loop" if exc.errno == errno.ELOOP else f"cannot read file ({exc.strerror})"
        raise ImageLoadError(path, reason) from exc
    if stat.S_ISDIR(status.st_mode):
        raise ImageLoadError(path, "is a folder, not a file")
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in NOT_REGULAR.items() if test(status.st_mode)), "a special file")
        raise ImageLoadError(path, f"not a regular file ({kind}); only regular files are read")
    if status.st_size > MAX_FILE_BYTES:
        raise ImageLoadError(path, f"file too large ({status.st_size / 2**20:,.0f} MiB; "
                                   f"the limit is {MAX_FILE_BYTES // 2**20:,} MiB)")


def _check_size(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_PIXELS:
        raise ImageLoadError(
            path,
            f"image too large ({columns} x {rows} pixels; the limit is {MAX_PIXELS // 10**6} megapixels)",
        )


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ LUMA_WEIGHTS


def _gray_from_color(rgb: np.ndarray, notices: list[str]) -> tuple[np.ndarray, bool]:
    """Returns (gray pixels, is_color_source). Gray images stored as RGB are common for JPEGs
    from the web; they are read as grayscale without counting as colour."""
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        notices.append("Stored as colour with identical channels; read as grayscale.")
        return rgb[..., 0], False
    notices.append("Colour image converted to grayscale; it is not a native X-ray.")
    return to_grayscale(rgb), True


# ---------------------------------------------------------------- PNG / JPEG (Pillow)


def _load_pillow(path: Path) -> XRayImage:
    notices: list[str] = []
    try:
        with _open_pillow(path) as opened:
            _check_size(path, opened.height, opened.width)
            source_format = opened.format
            pixels, is_color, bits = _pillow_pixels(ImageOps.exif_transpose(opened), notices)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, "not a readable PNG or JPEG file") from exc
    except OSError as exc:
        raise ImageLoadError(path, f"file is truncated or corrupt ({exc})") from exc
    return XRayImage(
        path=path,
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        source_format=source_format,
        bits_stored=bits,
        is_color_source=is_color,
        notices=notices,
        keys=plain_image_keys(path),
    )


def _open_pillow(path: Path) -> Image.Image:
    """Image.open with Pillow's decompression-bomb warning raised as an error."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageLoadError(path, f"image too large ({exc})") from exc


def _pillow_pixels(picture: Image.Image, notices: list[str]) -> tuple[np.ndarray, bool, int]:
    if picture.mode.startswith("I"):
        return np.asarray(picture), False, 16
    if picture.mode in ("L", "1", "LA"):
        return np.asarray(picture.convert("L")), False, 8
    pixels, is_color = _gray_from_color(np.asarray(picture.convert("RGB")), notices)
    return pixels, is_color, 8


# ---------------------------------------------------------------- DICOM (pydicom)


def read_dicom(path: Path, **read_options) -> tuple[Dataset, list[str]]:
    """Read a DICOM file, also one without preamble or file meta (read as the encoding pydicom
    detects). Raises ImageLoadError when the file is not DICOM."""
    try:
        return _read_complete(path, **read_options), []
    except InvalidDicomError:
        pass
    try:
        dataset = _read_complete(path, force=True, **read_options)
    except ImageLoadError:
        raise
    except Exception as exc:
        raise ImageLoadError(path, "not a DICOM, PNG or JPEG file") from exc
    if not _has_dicom_content(dataset):
        raise ImageLoadError(path, "not a DICOM, PNG or JPEG file")
    implicit, little_endian = dataset.original_encoding
    dataset.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
    )
    return dataset, ["File has no DICOM preamble or file meta; read as raw data set."]


def _read_complete(path: Path, **read_options) -> Dataset:
    """dcmread, except that a file ending inside an element (pydicom only warns) is an error."""
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = _dcmread_bounded(path, **read_options)
    for warning in caught:
        if "End of file reached" in str(warning.message):
            raise ImageLoadError(path, f"file is truncated ({warning.message})")
    return dataset


def _dcmread_bounded(path: Path, **read_options) -> Dataset:
    """dcmread, but a deflated data set is inflated here with a cap: pydicom inflates it whole."""
    try:
        meta = read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - no file meta: nothing says it is deflated; dcmread reports what is wrong
        return pydicom.dcmread(path, **read_options)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return pydicom.dcmread(path, **read_options)
    if "FileMetaInformationGroupLength" not in meta:
        raise ImageLoadError(path, "deflated DICOM file without File Meta Information Group Length")
    # The data set starts after the preamble, "DICM" and the meta group (its length element is 12 bytes).
    inflated = _inflate(path, 128 + 4 + 12 + int(meta.FileMetaInformationGroupLength))
    dataset = pydicom.dcmread(inflated, **{**read_options, "force": True})
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    return dataset


def _inflate(path: Path, start: int) -> io.BytesIO:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated = io.BytesIO()
    with path.open("rb") as stream:
        stream.seek(start)
        # After the end of the stream, zlib leaves any padding byte in unconsumed_tail for ever.
        while not inflater.eof and (compressed := stream.read(INFLATE_STEP)):
            while compressed and not inflater.eof:
                inflated.write(inflater.decompress(compressed, INFLATE_STEP))
                if inflated.tell() > MAX_INFLATED_BYTES:
                    raise ImageLoadError(path, f"deflated data set inflates beyond {MAX_INFLATED_BYTES // 2**20:,} "
                                               "MiB (a decompression bomb?); refused")
                compressed = inflater.unconsumed_tail
    inflated.write(inflater.flush())
    inflated.seek(0)
    return inflated


def _has_dicom_content(dataset: Dataset) -> bool:
    """A forced read of a non-DICOM file yields a few garbage elements; a real data set has an
    SOP class or image geometry."""
    return any(keyword in dataset for keyword in ("SOPClassUID", "Rows", "DirectoryRecordSequence"))


def describe_non_image(dataset: Dataset) -> str:
    """What a pixel-less DICOM object is, for 'skipped' messages: 'DICOMDIR', 'Basic Text SR Storage'…"""
    media_class = dataset.get("file_meta", Dataset()).get("MediaStorageSOPClassUID")
    if "DirectoryRecordSequence" in dataset or media_class == MediaStorageDirectoryStorage:
        return "DICOMDIR"
    sop_class = dataset.get("SOPClassUID") or media_class
    return UID(sop_class).name if sop_class else "unknown object"


def _load_dicom(path: Path, on_preview: Callable[[Preview], None] | None = None) -> XRayImage:
    dataset, notices = read_dicom(path)
    if "PixelData" not in dataset:
        raise ImageLoadError(path, f"DICOM file has no pixel data ({describe_non_image(dataset)})")
    _check_size(path, int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0)))
    _check_decoder(path, dataset)
    frame_count = int(dataset.get("NumberOfFrames") or 1)
    if frame_count > 1:
        notices.append(f"Multi-frame image ({frame_count} frames); showing the first frame.")
    if on_preview is not None:
        _offer_preview(path, dataset, notices, on_preview)
    try:
        stored = first_frame(dataset)
    except Exception as exc:
        raise ImageLoadError(path, f"pixel data is truncated or corrupt ({exc})") from exc
    return _dicom_image(path, dataset, stored, notices)


def _offer_preview(path: Path, dataset: Dataset, notices: list[str], on_preview: Callable[[Preview], None]) -> None:
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    levels = (max(rows, columns) // PREVIEW_MIN_SIDE).bit_length() - 1
    if rows * columns < PREVIEW_MIN_PIXELS or levels < 1 or not reducible(dataset):
        return
    try:
        levels, stored = reduced_first_frame(dataset, levels)
    except (ValueError, RuntimeError):  # no preview then; the full decode says what is wrong, if anything
        return
    reduction = 2**levels
    if stored.shape != (ceil(rows / reduction), ceil(columns / reduction)):  # header and codestream disagree
        return
    on_preview(Preview(_dicom_image(path, dataset, stored, list(notices)), reduction, columns, rows))


def _dicom_image(path: Path, dataset: Dataset, stored: np.ndarray, notices: list[str]) -> XRayImage:
    """Stored values to modality values and the image's description."""
    pixels, is_color = _dicom_gray_pixels(stored, dataset, notices)
    with np.errstate(over="ignore", invalid="ignore"):
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if not np.isfinite(pixels).all():
        raise ImageLoadError(path, "invalid rescale values: the Modality LUT (Rescale Slope / Intercept) gives "
                                   "pixel values that are not finite numbers")
    return XRayImage(
        path=path,
        pixels=pixels,
        source_format="DICOM",
        bits_stored=int(dataset.get("BitsStored") or stored.dtype.itemsize * 8),
        keys=header_keys(dataset, path),
        body_part=str(dataset.get("BodyPartExamined", "")),
        is_color_source=is_color,
        presentation_inverted=not is_color and _presentation_inverted(dataset),
        header_windows=[] if is_color else header_windows(dataset),
        notices=notices,
        dataset=dataset,
        pixel_spacing=_spacing(dataset.get("PixelSpacing")),
        imager_pixel_spacing=_spacing(dataset.get("ImagerPixelSpacing")),
        frame_count=int(dataset.get("NumberOfFrames") or 1),
    )


def _check_decoder(path: Path, dataset: Dataset) -> None:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageLoadError(path, "DICOM file meta has no Transfer Syntax UID")
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise ImageLoadError(path, f"unsupported transfer syntax '{syntax.name}' ({syntax}): no decoder installed")


def _dicom_gray_pixels(stored: np.ndarray, dataset: Dataset, notices: list[str]) -> tuple[np.ndarray, bool]:
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        return _gray_from_color(apply_color_lut(stored, dataset), notices)
    if stored.ndim == 3:  # RGB, YBR (pydicom converts YBR to RGB while decoding)
        return _gray_from_color(stored, notices)
    return apply_modality_lut(stored, dataset), False


def _presentation_inverted(dataset: Dataset) -> bool:
    """MONOCHROME1 and Presentation LUT Shape INVERSE describe the same inversion: DICOM requires
    INVERSE on MONOCHROME1 images of the DX/CR 'for presentation' IODs, so it must not undo it."""
    shape = str(dataset.get("PresentationLUTShape", "")).strip().upper()
    return dataset.get("PhotometricInterpretation") == "MONOCHROME1" or shape == "INVERSE"


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue | list) else [value]


def header_windows(dataset: Dataset) -> list[Window]:
    """Header VOI transforms in the order pydicom would apply them: VOI LUT Sequence items first
    (pydicom's `prefer_lut`), then Window Center/Width pairs."""
    windows = [_voi_lut_window(index, item) for index, item in enumerate(dataset.get("VOILUTSequence") or [])]
    centers = _as_list(dataset.get("WindowCenter"))
    widths = _as_list(dataset.get("WindowWidth"))
    explanations = _as_list(dataset.get("WindowCenterWidthExplanation"))
    function = str(dataset.get("VOILUTFunction") or "LINEAR").upper()
    for index, (center, width) in enumerate(zip(centers, widths)):
        if float(width) <= 0:
            continue
        label = str(explanations[index]) if index < len(explanations) else f"Header window {index + 1}"
        windows.append(Window(float(center), float(width), function, label))
    return windows


def _voi_lut_window(index: int, item: Dataset) -> Window:
    entries, first_mapped, _ = item.LUTDescriptor
    entries = entries or 2**16
    label = str(item.get("LUTExplanation") or f"Header VOI LUT {index + 1}")
    return Window(first_mapped + entries / 2, float(entries), "LINEAR", label, voi_lut_index=index)


def _spacing(value) -> tuple[float, float] | None:
    """Row and column spacing in mm; zero spacing (seen in real CR files) means unknown."""
    values = _as_list(value)
    if len(values) != 2 or min(float(v) for v in values) <= 0:
        return None
    return float(values[0]), float(values[1])
