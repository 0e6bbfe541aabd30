"""The AI result SR made fast: its measurement groups as plain values (what structured_report says of an
analysis), and the content tree highdicom built and validated once for each shape of them, filled per
film.

highdicom spends ~150 ms on one result SR, almost all of it validating, copying and searching the
content tree that every film of the same model and shape shares: the same groups, algorithm
identifications, finding sites and concept names, only the figures, calls, words and tracking UIDs
differ. A ReportTemplate keeps the tree highdicom made for the first film of a shape (model version,
operating points, the concept names of each group's values in order); a later film gets a copy in
which only the content items of its values are new, each made by highdicom's own content item classes
(so each value is still checked), the rest shared with the template. Nothing of a template is ever
changed after it is made: a filled tree only replaces items.

Writing the report cost pydicom as much again (~30 ms: ~1,700 elements in ~470 nested items, each
item's subtree re-walked for ambiguous VRs once per level above it), so the template also keeps the
bytes of each content item it shares, encoded once: a film's content tree is written as those bytes
and its own items' (the same bytes, item for item, that pydicom writes for the whole tree), and read
back by pydicom as a file's is, when asked for."""

from dataclasses import dataclass

import highdicom as hd
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_sequence_item
from pydicom.sr.codedict import codes

from xraydesk.dicom_results.codes import NO_UNITS

MAX_TEMPLATES = 256  # shapes kept (model versions x flag combinations x withheld or not); then started afresh
_CONTENT_SEQUENCE = 0x0040A730


@dataclass(frozen=True)
class Num:
    """A NUM measurement: a probability or a score, without units."""
    name: hd.sr.CodedConcept
    value: float
    site: hd.sr.FindingSite | None = None  # its own finding site, beside the group's


@dataclass(frozen=True)
class Coded:
    """A CODE qualitative evaluation: a call, the input check, a flag."""
    name: hd.sr.CodedConcept
    value: hd.sr.CodedConcept


@dataclass(frozen=True)
class Text:
    """A TEXT qualitative evaluation: words that have no code."""
    name: hd.sr.CodedConcept
    value: str


Value = Num | Coded | Text


@dataclass(frozen=True)
class Group:
    """One measurement group of the report: its tracking name (which fixes its finding and finding sites),
    the operating points its algorithm used, and its values in order."""
    tracking: str
    operating_points: tuple[str, ...]
    finding: hd.sr.CodedConcept | None
    sites: tuple[hd.sr.FindingSite, ...] | None
    values: tuple[Value, ...]

    @property
    def measurements(self) -> list[Num]:
        return [value for value in self.values if isinstance(value, Num)]

    @property
    def evaluations(self) -> list[Coded | Text]:
        return [value for value in self.values if not isinstance(value, Num)]

    def shape(self) -> tuple:
        return self.tracking, self.operating_points, tuple(
            (type(value).__name__, value.name.value, isinstance(value, Num) and value.site is not None)
            for value in (*self.measurements, *self.evaluations))


def shape_of(model_version: str, operating_points: dict, groups: list[Group]) -> tuple:
    """What a template is kept by: films with the same shape differ only in the values of their groups."""
    return model_version, repr(sorted(operating_points.items())), tuple(group.shape() for group in groups)


class ReportTemplate:
    """The root container highdicom built for one shape; `filled` gives a film's content items."""

    def __init__(self, root: Dataset, groups: list[Group]):
        items = list(root.ContentSequence)
        self.measurements = items[-1]  # TID 1500's Imaging Measurements container comes last
        if self.measurements.ConceptNameCodeSequence[0].CodeValue != codes.DCM.ImagingMeasurements.value:
            raise ValueError("the report's last content item is not its Imaging Measurements container")
        # Before the image library, which is the film's own: language, observer, procedure reported.
        self.context = [item for item in items[:-1] if not _in_image_library(item)]
        self.root = _with_content(root, [])
        self.slots = [_slots(item, group) for item, group in zip(self.measurements.ContentSequence, groups,
                                                                  strict=True)]
        # Every content item of the template (kept alive by it, so their ids stay theirs), and the bytes
        # of those a film's report was written with.
        self.shared = {id(item) for item in _items_under([*self.context, self.measurements])}
        self.encoded: dict[int, bytes] = {}

    def content(self, library: list[Dataset]) -> Dataset:
        """The root container with the context and `library` (the film's image library): what the SR
        document is made from, before its measurement groups are added."""
        return _with_content(self.root, [*self.context, *library])

    def filled(self, groups: list[Group], tracking_uids: list[str]) -> Dataset:
        """The Imaging Measurements container with the values of `groups` (a film of this shape)."""
        return _with_content(self.measurements, [
            self._filled_group(item, slots, group, uid)
            for item, slots, group, uid in zip(self.measurements.ContentSequence, self.slots, groups, tracking_uids,
                                               strict=True)])

    def with_encoded_content(self, document: Dataset) -> Dataset:
        """`document` (a report of this template) with its content tree as the bytes pydicom would write
        for it, the template's shared items encoded once; pydicom writes them as they are (the
        document's original encoding is the file's: explicit VR little endian, its character set)."""
        encoded = Dataset(document)
        encoded.file_meta, encoded.preamble = document.file_meta, document.preamble
        _set_content(encoded, self._encoded_items(document.ContentSequence, document.SpecificCharacterSet))
        return encoded

    def _encoded_items(self, items, character_set: str) -> bytes:
        return b"".join(self._encoded_item(item, character_set) for item in items)

    def _encoded_item(self, item: Dataset, character_set: str) -> bytes:
        key = id(item)
        if key in self.encoded:
            return self.encoded[key]
        if "ContentSequence" in item:
            children = self._encoded_items(item.ContentSequence, character_set)
            item = _with_content(item, [])
            _set_content(item, children)
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        write_sequence_item(fp, item, character_set)
        if key in self.shared:
            self.encoded[key] = fp.getvalue()
        return fp.getvalue()

    @staticmethod
    def _filled_group(item: Dataset, slots: list[int], group: Group, tracking_uid: str) -> Dataset:
        children = list(item.ContentSequence)
        uid_slot, *value_slots = slots
        children[uid_slot] = hd.sr.UIDRefContentItem(
            name=codes.DCM.TrackingUniqueIdentifier, value=tracking_uid,
            relationship_type=children[uid_slot].RelationshipType)
        for index, value in zip(value_slots, (*group.measurements, *group.evaluations), strict=True):
            children[index] = _value_item(children[index], value)
        return _with_content(item, children)


def _slots(group_item: Dataset, group: Group) -> list[int]:
    """Where, among the group item's children, its tracking UID and then each of its values are."""
    children = list(group_item.ContentSequence)
    uid = [index for index, child in enumerate(children) if child.ValueType == "UIDREF"]
    names = [value.name.value for value in (*group.measurements, *group.evaluations)]
    value_slots, wanted = [], iter(names)
    expected = next(wanted, None)
    for index, child in enumerate(children):
        if expected is not None and child.ValueType != "UIDREF" and _name(child) == expected:
            value_slots.append(index)
            expected = next(wanted, None)
    if len(uid) != 1 or len(value_slots) != len(names):
        raise ValueError(f"the group {group.tracking!r} highdicom built does not hold its values in order")
    return uid + value_slots


def _value_item(template: Dataset, value: Value) -> Dataset:
    """The content item of `value`, made by highdicom as the template's was, with the template's children
    (a measurement's own finding site)."""
    relationship = template.RelationshipType
    if isinstance(value, Num):
        item = hd.sr.NumContentItem(name=value.name, value=value.value, unit=NO_UNITS, relationship_type=relationship)
    elif isinstance(value, Coded):
        item = hd.sr.CodeContentItem(name=value.name, value=value.value, relationship_type=relationship)
    else:
        item = hd.sr.TextContentItem(name=value.name, value=value.value, relationship_type=relationship)
    if "ContentSequence" in template:
        item.add(template["ContentSequence"])
    return item


def _with_content(item: Dataset, children: list[Dataset]) -> Dataset:
    """A new item with `item`'s elements (shared: neither is ever changed) and `children` as its content."""
    copy = Dataset()
    for element in item:
        if element.tag != _CONTENT_SEQUENCE:
            copy.add(element)
    if children:
        copy.add(DataElement(_CONTENT_SEQUENCE, "SQ", children))
    return copy


def _set_content(item: Dataset, encoded_children: bytes) -> None:
    """`item`'s content as encoded items, written as they are: the item's original encoding is the
    file's, so pydicom neither re-checks nor re-encodes them."""
    item[_CONTENT_SEQUENCE] = RawDataElement(_CONTENT_SEQUENCE, "SQ", len(encoded_children), encoded_children, 0,
                                             False, True)
    item.set_original_encoding(False, True, item._character_set)


def _items_under(items) -> list[Dataset]:
    """`items` and every item in their sequences, at any depth."""
    found = []
    for item in items:
        found.append(item)
        for element in item:
            if element.VR == "SQ":
                found += _items_under(element.value)
    return found


def _name(item: Dataset) -> str:
    return item.ConceptNameCodeSequence[0].CodeValue


def _in_image_library(item: Dataset) -> bool:
    return _name(item) == codes.DCM.ImageLibrary.value
