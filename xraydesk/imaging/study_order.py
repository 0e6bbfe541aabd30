"""When a study was made, and which study is "the prior" (no Qt): the one rule behind the compare view's
prior, the trend's change since the prior and the study browser's order.

A study's moment is its Study Date and its time. The time is the Study Time; where the header has none,
the earliest time of its images (image_time: the time of Acquisition DateTime, Acquisition Time, Content
Time or Series Time, the first an image has). Studies are ordered by date, then time (an unknown time
first), then Study Instance UID. One study is earlier than another when its date is earlier, or on the
same day when both times are known and its time is earlier: two studies of one day whose order the headers
do not give are neither's prior. The prior of a study is the most recent study earlier than it. (The
browser places a study when it finds its first image: without a Study Time, that image's time.)"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IMAGE_TIME_KEYWORDS = ("AcquisitionDateTime", "AcquisitionTime", "ContentTime", "SeriesTime")
TIME_KEYWORDS = ("StudyTime", *IMAGE_TIME_KEYWORDS)


def header_time(dataset, keywords: tuple[str, ...] = TIME_KEYWORDS) -> str:
    """The time of the image's study as DICOM TM (HHMMSS.FFFFFF or a prefix): the first of `keywords` the
    header has (`dataset`: a pydicom Dataset or anything with .get(keyword)); "" without one."""
    for keyword in keywords:
        value = str(dataset.get(keyword, "") or "").strip()
        if value:
            # DT: YYYYMMDDHHMMSS.FFFFFF, then maybe a UTC offset (&ZZXX)
            return value[8:].split("+")[0].split("-")[0] if keyword == "AcquisitionDateTime" else value
    return ""


def image_time(dataset) -> str:
    """When the image itself was made (DICOM TM), "" when the header does not say."""
    return header_time(dataset, IMAGE_TIME_KEYWORDS)


@dataclass(frozen=True)
class StudyMoment:
    date: datetime.date
    time: datetime.time | None = None  # None: the headers do not say when in the day

    @classmethod
    def parse(cls, study_date: str, study_time: str = "") -> "StudyMoment | None":
        """DICOM DA (YYYYMMDD) and TM (HHMMSS.FFFFFF, any prefix of it); None without a valid date."""
        try:
            date = datetime.datetime.strptime(study_date.strip(), "%Y%m%d").date()
        except ValueError:
            return None
        digits = study_time.strip().split(".")[0]
        if not digits or len(digits) % 2 or not digits.isdigit():
            return cls(date)
        hour, minute, second = ([int(digits[i:i + 2]) for i in range(0, len(digits), 2)] + [0, 0])[:3]
        try:
            return cls(date, datetime.time(hour, minute, second))
        except ValueError:
            return cls(date)

    @classmethod
    def of_study(cls, images: Iterable[tuple[str, str]]) -> "StudyMoment | None":
        """A study's moment from its images' (Study Date, header_time): the earliest time any of them gives."""
        moments = [moment for moment in (cls.parse(*image) for image in images) if moment is not None]
        if not moments:
            return None
        date = min(moment.date for moment in moments)
        times = [moment.time for moment in moments if moment.date == date and moment.time is not None]
        return cls(date, min(times, default=None))

    @property
    def sort_key(self) -> tuple:
        return (self.date, self.time is not None, self.time or datetime.time.min)

    def as_datetime(self) -> datetime.datetime:
        """The moment on a time axis (an unknown time at the start of the day)."""
        return datetime.datetime.combine(self.date, self.time or datetime.time.min)

    def is_before(self, other: "StudyMoment") -> bool:
        if self.date != other.date:
            return self.date < other.date
        return self.time is not None and other.time is not None and self.time < other.time


def earlier_indices(moments: Sequence[StudyMoment], current: int) -> list[int]:
    """The indices of the moments earlier than moments[current], the most recent first: the first is its prior."""
    earlier = [index for index, moment in enumerate(moments) if moment.is_before(moments[current])]
    return sorted(earlier, key=lambda index: moments[index].sort_key, reverse=True)


def prior_index(moments: Sequence[StudyMoment], current: int) -> int | None:
    return next(iter(earlier_indices(moments, current)), None)


def interval_words(earlier: StudyMoment, later: StudyMoment) -> str:
    """How long before `later` the earlier study was made: "6 days earlier", "1 h 56 min earlier" (the
    same day, both times known), "the same day"."""
    days = (later.date - earlier.date).days
    if days:
        return f"{days} day{'s' if days != 1 else ''} earlier"
    if earlier.time is None or later.time is None:
        return "the same day"
    hours, minutes = divmod(round((later.as_datetime() - earlier.as_datetime()).total_seconds() / 60), 60)
    return f"{f'{hours} h ' if hours else ''}{minutes} min earlier"
