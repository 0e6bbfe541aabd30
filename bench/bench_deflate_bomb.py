"""Peak memory of the header scan and the loader on a deflate bomb: a DICOM file of a few MiB whose
deflated data set inflates to 4 GiB (a 46340 x 46340 16-bit image). Each runs in a fresh process.
Run: python bench/bench_deflate_bomb.py"""

import io
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SIDE = 46340  # 46340² x 2 bytes = 4.29e9, just under the 4 GiB a DICOM element length can state
MEASURE = """
import resource, sys, time
from pathlib import Path
from xraydesk.imaging import ImageLoadError, load_image, scan_paths
start = time.perf_counter()
if sys.argv[1] == "scan":
    reason = scan_paths([Path(sys.argv[2])])[0].reason
else:
    try:
        load_image(sys.argv[2])
    except ImageLoadError as error:
        reason = error.reason
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
print(f"{sys.argv[1]:5}: peak memory {peak:,.0f} MiB in {time.perf_counter() - start:.2f} s: {reason}")
"""


def header_bytes(transfer_syntax) -> bytes:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = transfer_syntax
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.Modality, dataset.Rows, dataset.Columns = "DX", SIDE, SIDE
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def data_set_start(file_bytes: bytes) -> int:
    """After the preamble, "DICM" and the meta group, whose length is the value of its first element."""
    return 144 + int.from_bytes(file_bytes[140:144], "little")


def write_bomb(path: Path) -> None:
    plain = header_bytes(ExplicitVRLittleEndian)
    data_set = plain[data_set_start(plain):]
    prefix = header_bytes(DeflatedExplicitVRLittleEndian)
    prefix = prefix[:data_set_start(prefix)]
    length = SIDE * SIDE * 2
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(2**26)
    with path.open("wb") as stream:
        stream.write(prefix)
        stream.write(compressor.compress(data_set + b"\xe0\x7f\x10\x00OW\x00\x00" + length.to_bytes(4, "little")))
        for start in range(0, length, len(zeros)):
            stream.write(compressor.compress(zeros[: min(len(zeros), length - start)]))
        stream.write(compressor.flush())


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        bomb = Path(folder) / "bomb.dcm"
        write_bomb(bomb)
        print(f"{bomb.stat().st_size / 2**20:.1f} MiB file inflating to {SIDE * SIDE * 2 / 2**30:.1f} GiB")
        for step in ("scan", "load"):
            subprocess.run([sys.executable, "-c", MEASURE, step, str(bomb)], cwd=REPO_ROOT, check=True)


if __name__ == "__main__":
    main()
