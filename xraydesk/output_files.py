"""How XRayDesk writes an output file (the CSV, its sidecar, the PDF): into a hidden temporary file
beside the target, renamed into place only when complete, with the mode a plain open() would give it;
and how what must survive a crash is flushed to disk. A leaf, below every package that writes files."""

import os
import tempfile
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


def flush(path: Path, up_to: Path) -> None:
    """fsync of `path` (a file or a folder) and of each folder above it up to `up_to`, which holds it: a
    new name is on disk only once the folder holding it is."""
    for item in (path, *path.parents[:len(path.relative_to(up_to).parts)]):
        descriptor = os.open(item, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
