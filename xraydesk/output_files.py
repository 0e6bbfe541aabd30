"""How XRayDesk writes an output file (the CSV, its sidecar, the PDF): into a hidden temporary file
beside the target, renamed into place only when complete, with the mode a plain open() would give it;
and how what must survive a crash is flushed to disk. A leaf, below every package that writes files."""

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


def readable_mode() -> int:
    # mkstemp makes the file private; an output gets the mode a plain open() would give it.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(target: Path) -> tuple[int, Path]:
    """A new file in the target's folder, open as a descriptor (a unique name: concurrent runs never share
    it), with readable_mode(). Raises OSError when the folder refuses it."""
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.fchmod(descriptor, readable_mode())
    return descriptor, Path(name)


def flush(paths: Sequence[Path], up_to: Path) -> None:
    """fsync of each of `paths` (files or folders) and then, once each, of every folder above them up to
    `up_to`, which holds them: a new name is on disk only once the folder holding it is."""
    folders = dict.fromkeys(folder for item in paths for folder in item.parents[:len(item.relative_to(up_to).parts)])
    for item in (*paths, *folders):
        descriptor = os.open(item, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
