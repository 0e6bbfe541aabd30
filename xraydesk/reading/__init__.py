"""The reading model (no Qt): what the workstation knows about the reading under way, observed by the
window's views (xraydesk.reading.model)."""

from xraydesk.reading.model import OPEN_RULE, Reading
from xraydesk.reading.options import MemoryStore, Options

__all__ = ["OPEN_RULE", "MemoryStore", "Options", "Reading"]
