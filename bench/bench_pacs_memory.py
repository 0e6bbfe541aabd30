"""Peak memory of `xraydesk pacs listen` (a subprocess) while it receives: one large C-STORE, three at
once, and a caller announcing a 1.5 GB A-ASSOCIATE-RQ. Prints the listener's resident memory at
rest and its peak (VmHWM) after each step. Linux only (/proc).
Run: python bench/bench_pacs_memory.py [--mib 200]"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config

SENDER = "BENCH"


def large_image(path: Path, mib: int) -> Path:
    side = int((mib * 1024 * 1024 / 2) ** 0.5)
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.Modality, dataset.PatientID = "DX", "BENCH"
    dataset.set_pixel_data(np.zeros((side, side), dtype=np.uint16), "MONOCHROME2", 16)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.save_as(path, enforce_file_format=True)
    return path


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def push(port: int, path: Path) -> int:
    ae = AE(ae_title=SENDER)
    ae.add_requested_context(DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian)
    ae.dimse_timeout = ae.network_timeout = 600
    association = ae.associate("127.0.0.1", port, ae_title="XRAYDESK")
    try:
        return int(association.send_c_store(path).Status)
    finally:
        association.release()


def announce_huge_pdu(port: int) -> None:
    """A-ASSOCIATE-RQ header announcing 1.5 GB, then zeros until the listener closes the connection."""
    with socket.create_connection(("127.0.0.1", port)) as caller:
        caller.sendall(struct.pack(">BBL", 0x01, 0, 1_500_000_000))
        try:
            for _ in range(1_500_000_000 // 65536):
                caller.sendall(bytes(65536))
        except OSError:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=200, help="size of each pushed object (under the 256 MiB limit)")
    args = parser.parse_args()
    _config.STORE_SEND_CHUNKED_DATASET = True  # the sender streams the file: its memory is not measured anyway
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        image = large_image(folder / "large.dcm", args.mib)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        listener = subprocess.Popen([sys.executable, "-m", "xraydesk", "pacs", "listen", "--port", str(port), "--to",
                                     str(folder / "store"), "--allow", SENDER], stdout=subprocess.PIPE, text=True,
                                    env={**os.environ, "XDG_CONFIG_HOME": str(folder)})  # default settings
        try:
            listener.stdout.readline()
            print(f"listener at rest: {memory_mib(listener.pid)[0]:.0f} MiB")
            print(f"one {args.mib} MiB C-STORE: status 0x{push(port, image):04X}, "
                  f"peak {memory_mib(listener.pid)[1]:.0f} MiB")
            senders = [threading.Thread(target=push, args=(port, image)) for _ in range(3)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            print(f"three at once: peak {memory_mib(listener.pid)[1]:.0f} MiB")
            announce_huge_pdu(port)
            print(f"a 1.5 GB A-ASSOCIATE-RQ announced: peak {memory_mib(listener.pid)[1]:.0f} MiB")
        finally:
            listener.terminate()
            listener.wait()


if __name__ == "__main__":
    main()
