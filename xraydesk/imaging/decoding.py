"""Decoding a DICOM image's first frame. The C decoders of compressed syntaxes (openjpeg for JPEG
2000, libjpeg for JPEG lossless / extended / JPEG-LS, directly or through Pillow) hold Python's GIL
for the whole decode — half a second for a 2000 x 2000 JPEG 2000 chest film — so a worker thread
decoding one would freeze the UI. Those frames are decoded by a helper process (started on first
need, ending when its parent does); uncompressed data and RLE (decoded by pydicom in NumPy) decode
in the calling thread. A plain subprocess rather than multiprocessing: it never re-imports the
caller's main script, so any script may load images.

JPEG 2000 and baseline JPEG frames also decode at a reduced size (a preview) in a fraction of the
time: JPEG 2000 by skipping the finest wavelet levels (Pillow's `reduce`), JPEG by scaling its DCT
(Pillow's `draft`)."""

import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from io import BytesIO
from math import ceil
from typing import BinaryIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import pixel_array
from pydicom.pixels.utils import get_j2k_parameters
from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

LENGTH_BYTES = 8
HELPER_COMMAND = [sys.executable, "-c",
                  "import sys; from xraydesk.imaging.decoding import serve; serve(sys.stdin.buffer, sys.stdout.buffer)"]


def decodes_in_helper_process(dataset: Dataset) -> bool:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    return syntax is not None and syntax.is_compressed and syntax != RLELossless


@dataclass(frozen=True)
class FirstFrame:
    """The first frame's stored values, as pydicom decodes them."""

    dataset: Dataset

    def decode(self) -> np.ndarray:
        return pixel_array(self.dataset, index=0)


def first_frame(dataset: Dataset) -> np.ndarray:
    request = FirstFrame(dataset)
    return _helper.decode(request) if decodes_in_helper_process(dataset) else request.decode()


# Pillow's name of the format of each syntax it decodes at reduced size.
REDUCIBLE_FORMATS = {JPEG2000Lossless: "JPEG2000", JPEG2000: "JPEG2000", JPEGBaseline8Bit: "JPEG"}
# libjpeg scales the DCT down to 1/8.
JPEG_DRAFT_LEVELS = 3
J2K_START = b"\xff\x4f\xff\x51"  # SOC, then SIZ
J2K_COD, J2K_SOT = b"\xff\x52", b"\xff\x90"


def reducible(dataset: Dataset) -> bool:
    """Whether the first frame can decode at reduced size with the stored values the full decode
    gives: one unsigned monochrome sample (Pillow offsets signed JPEG 2000 samples)."""
    return (dataset.file_meta.get("TransferSyntaxUID") in REDUCIBLE_FORMATS
            and int(dataset.get("SamplesPerPixel") or 1) == 1
            and int(dataset.get("PixelRepresentation") or 0) == 0
            and str(dataset.get("PhotometricInterpretation", "")) in ("MONOCHROME1", "MONOCHROME2"))


def reduced_first_frame(dataset: Dataset, levels: int) -> tuple[int, np.ndarray]:
    """The first frame's stored values at 1/2**levels of its size in each direction (sizes rounded
    up), decoded in the helper process; the codestream may allow fewer levels. Returns (levels
    applied, values). For `reducible` data sets only; ValueError where none can be applied."""
    frames = int(dataset.get("NumberOfFrames") or 1)
    codestream = get_frame(dataset.PixelData, 0, number_of_frames=frames)
    image_format = REDUCIBLE_FORMATS[dataset.file_meta.TransferSyntaxUID]
    return _helper.decode(ReducedFrame(codestream, image_format, levels))


@dataclass(frozen=True)
class ReducedFrame:
    codestream: bytes
    image_format: str  # "JPEG2000" or "JPEG"
    levels: int

    def decode(self) -> tuple[int, np.ndarray]:
        picture = Image.open(BytesIO(self.codestream), formats=(self.image_format,))
        if picture.mode not in ("L", "I;16"):
            raise ValueError(f"not a monochrome frame (Pillow mode {picture.mode})")
        levels = self._possible_levels(picture.width, picture.height)
        size = (ceil(picture.width / 2**levels), ceil(picture.height / 2**levels))
        if self.image_format == "JPEG2000":
            picture.reduce = levels
        else:  # libjpeg's scale: the largest of 1/2, 1/4, 1/8 that keeps at least the size asked for
            picture.draft("L", (picture.width // 2**levels, picture.height // 2**levels))
        picture.load()
        if picture.size != size:
            raise ValueError(f"decoded {picture.size[0]} x {picture.size[1]} instead of {size[0]} x {size[1]}")
        pixels = np.asarray(picture)
        if self.image_format == "JPEG2000":
            # Pillow scales N-bit samples up to fill 8 or 16 bits; pydicom's Pillow plugin shifts them back.
            pixels = pixels >> (pixels.dtype.itemsize * 8 - get_j2k_parameters(self.codestream)["precision"])
        return levels, pixels

    def _possible_levels(self, width: int, height: int) -> int:
        """The most levels up to those asked for. Pillow sizes a reduced JPEG 2000 image by rounding,
        openjpeg by rounding up; where the two differ Pillow refuses the frame (RG1_J2KR below 1/2)."""
        if self.image_format != "JPEG2000":
            return min(self.levels, JPEG_DRAFT_LEVELS)
        for levels in range(min(self.levels, _j2k_decomposition_levels(self.codestream)), 0, -1):
            power = 2**levels
            if all((side + power // 2) // power == ceil(side / power) for side in (width, height)):
                return levels
        raise ValueError("Pillow cannot decode this JPEG 2000 frame at a reduced size")


def _j2k_decomposition_levels(codestream: bytes) -> int:
    """The wavelet levels of the main header's coding style (COD), 0 when it cannot be found."""
    start = codestream.find(J2K_START)
    if start < 0:
        return 0
    position = start + 2
    while position + 10 <= len(codestream):
        marker = codestream[position : position + 2]
        if marker == J2K_SOT:
            break
        if marker == J2K_COD:  # marker, Lcod (2), Scod (1), SGcod (4), then SPcod's levels
            return codestream[position + 9]
        position += 2 + int.from_bytes(codestream[position + 2 : position + 4], "big")
    return 0


def start_helper() -> None:
    """Starts the decoder process ahead of need (its start costs about a quarter of a second)."""
    _helper.start()


def _send(stream: BinaryIO, message) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(payload).to_bytes(LENGTH_BYTES, "little") + payload)
    stream.flush()


def _receive(stream: BinaryIO):
    header = stream.read(LENGTH_BYTES)
    if len(header) < LENGTH_BYTES:
        raise EOFError
    return pickle.loads(stream.read(int.from_bytes(header, "little")))  # our own process's reply


class HelperProcess:
    """One decoder process shared by all threads, one request at a time; restarted if it dies."""

    def __init__(self):
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._running()

    def decode(self, request: FirstFrame | ReducedFrame):
        """The request's decode() as run in the helper; its error, if any, as a ValueError."""
        with self._lock:
            try:
                process = self._running()
                _send(process.stdin, request)
                decoded, result = _receive(process.stdout)
            except (OSError, EOFError) as error:
                self._process = None
                raise RuntimeError("the image decoder process stopped unexpectedly") from error
        if not decoded:
            raise ValueError(result)
        return result

    def _running(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(HELPER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self._process


_helper = HelperProcess()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The helper's loop: a request in, (True, its result) or (False, the error) out, until stdin closes."""
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        try:
            reply = (True, request.decode())
        except Exception as error:  # noqa: BLE001 - returned to the caller, who names the file
            reply = (False, f"{type(error).__name__}: {error}")
        _send(replies, reply)
