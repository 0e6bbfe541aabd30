"""Talking to the hospital (no Qt): DIMSE and DICOMweb nodes, the local store, and the AI result
written back as DICOM."""
