"""Header values in words, one format everywhere (canvas, browser, worklist, reports), and who made
an object."""

from xraydesk.imaging.image import XRayImage

MANUFACTURER = "XRayDesk"  # the Manufacturer of every object XRayDesk writes (its SR, secondary capture ...)
AGE_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


def header_text(image: XRayImage, keyword: str) -> str:
    """A DICOM attribute as text; empty when the file has no header or no such value."""
    return str(image.dataset.get(keyword, "") or "").strip() if image.dataset is not None else ""


def format_study_date(value: str) -> str:
    """DICOM DA (YYYYMMDD) as YYYY-MM-DD; anything else as given."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def format_age(value: str) -> str:
    """DICOM AS ("047Y") as "47 years"; a bare number (seen in RSNA files) or anything else as given."""
    value = value.strip()
    if len(value) == 4 and value[:3].isdigit() and value[3] in AGE_UNITS:
        return f"{int(value[:3])} {AGE_UNITS[value[3]]}"
    return value


def age_in_years(value: str) -> float | None:
    """DICOM AS ("047Y", "006M") or a bare number of years (RSNA) in years; None when unreadable."""
    value = value.strip()
    unit = value[-1:] if value[-1:] in AGE_UNITS else "Y"
    number = value[:-1] if value[-1:] in AGE_UNITS else value
    if not number.isdigit():
        return None
    return int(number) / {"D": 365.25, "W": 52.18, "M": 12, "Y": 1}[unit]


def made_by_xraydesk(dataset) -> bool:
    """Whether the DICOM object `dataset` is one of XRayDesk's own results, never a film to analyse."""
    return dataset.get("Manufacturer") == MANUFACTURER
