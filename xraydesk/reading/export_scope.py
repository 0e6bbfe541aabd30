"""What File ▸ Export PDF summary covers, without Qt: the image on screen, the worklist selection,
every flagged image or every analysed image of the studies open (the Open rule, xraydesk.reading.model);
refused images (head CTs in a chest folder, ...) only when asked for."""

from collections.abc import Mapping
from pathlib import Path

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.words import is_flagged

SCOPES = {  # scope -> label
    "current": "The image on screen",
    "selection": "The worklist rows selected",
    "flagged": "Every flagged image (pneumonia likely or borderline, or a caveat raised)",
    "all": "Every analysed image",
}
PREFERRED_SCOPES = ("selection", "current", "flagged", "all")  # what the reader most likely means


def analyses_in_scope(scope: str, results: Mapping[Path, ImageAnalysis], current: Path | None,
                      selected: list[Path], include_refused: bool = False) -> list[ImageAnalysis]:
    """In the order given: the worklist's for a selection, the analysis order otherwise."""
    paths = {"current": [current] if current is not None else [], "selection": selected,
             "flagged": [path for path, analysis in results.items() if is_flagged(analysis)],
             "all": list(results)}[scope]
    analyses = [results[path] for path in paths if path in results]
    return [analysis for analysis in analyses if include_refused or analysis.prediction is not None]
