"""XRayDesk: an AI second opinion on chest X-rays. A research tool, not a medical device."""

__version__ = "0.5.2"  # the only place: pyproject.toml reads it; CHANGELOG.md has one entry per version

RESEARCH_USE_NOTICE = (
    "Research use only. XRayDesk is not a medical device and must not be used for diagnosis "
    "or treatment decisions."
)
