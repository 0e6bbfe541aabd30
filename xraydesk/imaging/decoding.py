"""Decoding a DICOM image's first frame. The C decoders of compressed syntaxes (openjpeg for JPEG
2000, libjpeg for JPEG lossless / extended / JPEG-LS, directly or through Pillow) hold Python's GIL
for the whole decode — half a second for a 2000 x 2000 JPEG 2000 chest film — so a worker thread
decoding one would freeze the UI. Those frames are decoded by a helper process (started on first
need, ending when its parent does); uncompressed data and RLE (decoded by pydicom in NumPy) decode
in the calling thread. A plain subprocess rather than multiprocessing: it never re-imports the
caller's main script, so any script may load images."""

import pickle
import subprocess
import sys
import threading
from typing import BinaryIO

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.uid import RLELossless

LENGTH_BYTES = 8
HELPER_COMMAND = [sys.executable, "-c",
                  "import sys; from xraydesk.imaging.decoding import serve; serve(sys.stdin.buffer, sys.stdout.buffer)"]


def decodes_in_helper_process(dataset: Dataset) -> bool:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    return syntax is not None and syntax.is_compressed and syntax != RLELossless


def first_frame(dataset: Dataset) -> np.ndarray:
    if decodes_in_helper_process(dataset):
        return _helper.decode(dataset)
    return pixel_array(dataset, index=0)


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

    def decode(self, dataset: Dataset) -> np.ndarray:
        with self._lock:
            try:
                process = self._running()
                _send(process.stdin, dataset)
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
    """The helper's loop: a dataset in, (True, pixels) or (False, the error) out, until stdin closes."""
    while True:
        try:
            dataset = _receive(requests)
        except EOFError:
            return
        try:
            reply = (True, pixel_array(dataset, index=0))
        except Exception as error:  # returned to the caller, who names the file
            reply = (False, f"{type(error).__name__}: {error}")
        _send(replies, reply)
