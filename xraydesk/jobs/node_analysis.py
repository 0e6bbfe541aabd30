"""What the AI node makes of the objects it received, in its own process or on a Dask worker: each one
through the image -> result pipeline (xraydesk.jobs.pipeline, as `predict` does), its results written
afresh into its own folder and flushed to disk. What became of each object goes back to the node, which
alone writes its queue.

Every object gets an answer: an image gets the SR of its analysis (or of the input check's refusal, a
hip film say) and, when analysed, a secondary capture; an object the pipeline cannot read as an image
(a report, pixels that cannot be decoded) gets the SR of that refusal. XRayDesk's own results, sent
back to the node, are skipped: analysing a report would answer it with another, for ever."""

import logging
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from xraydesk.jobs.pipeline import (
    Analysed,
    Prepared,
    Unreadable,
    analyse,
    dicom_source,
    prepare,
    refusal_datasets,
    result_datasets,
)
from xraydesk.jobs.queue import ANALYSED, FAILED, SKIPPED
from xraydesk.output_files import flush

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    object_id: int
    path: Path  # the received object
    results: Path  # the folder its results go to


@dataclass(frozen=True)
class Done:
    work: Work
    state: str  # ANALYSED, FAILED or SKIPPED
    files: tuple[Path, ...] = ()
    reason: str = ""  # ANALYSED: the refusal its SR states ("" when the model answered); else why
    model: str = ""  # the model version of the results


def analyse_on_worker(work: list[Work], models: Path | None) -> list[Done]:
    """analyse_objects on a Dask worker, with the model that worker process loaded once."""
    from xraydesk.jobs.cluster import worker_model

    return analyse_objects(worker_model(models), work)


def analyse_objects(model, work: list[Work]) -> list[Done]:
    """One answer per object, in order; the readable images go through the model together."""
    answers: dict[int, Done] = {}
    images: list[tuple[Work, Prepared]] = []
    for item in work:
        prepared = _answer_or_prepare(model, item)
        if isinstance(prepared, Done):
            answers[item.object_id] = prepared
        else:
            images.append((item, prepared))
    if images:
        for (item, _), analysed in zip(images, analyse(model, [prepared for _, prepared in images])):
            answers[item.object_id] = _settled(item, partial(_analysed_written, model, item, analysed))
    return [answers[item.object_id] for item in work]


def _analysed_written(model, item: Work, analysed: Analysed) -> Done:
    datasets = result_datasets(model, analysed, analysed.prepared.kept)
    return _written(model, item, datasets, analysed.outcome.check.reason)


def _answer_or_prepare(model, item: Work) -> Prepared | Done:
    """The object ready for the model, or its answer already: skipped, refused or failed."""
    from xraydesk.imaging.header import made_by_xraydesk
    from xraydesk.imaging.loading import read_dicom

    def prepared_or_refused():
        header, _ = read_dicom(item.path, stop_before_pixels=True)
        if made_by_xraydesk(header):
            return Done(item, SKIPPED, reason="an XRayDesk result, not an image to analyse")
        prepared = prepare(item.path, dicom_source)
        if isinstance(prepared, Unreadable):
            return _written(model, item, refusal_datasets(model, item.path, prepared.reason), prepared.reason)
        return prepared

    return _settled(item, prepared_or_refused)


def _settled(item: Work, step):
    """What `step` gives, or the object FAILED with the reason it raised (the others go on)."""
    from xraydesk.dicom_results import ResultsError
    from xraydesk.imaging import failure_reason

    try:
        return step()
    except ResultsError as error:
        return Done(item, FAILED, reason=str(error))
    except Exception as error:  # noqa: BLE001 - one object's failure is its own, said in --status
        LOGGER.warning("%s: no result (%s)", item.path, failure_reason(error))
        return Done(item, FAILED, reason=failure_reason(error))


def _written(model, item: Work, datasets, refusal: str) -> Done:
    """The results in a folder of their own, made afresh (what an attempt cut short left goes: nothing
    was sent of it), flushed to disk before the node records them."""
    from xraydesk.dicom_results import write_datasets

    shutil.rmtree(item.results, ignore_errors=True)
    files = write_datasets(datasets, item.results)
    flush(files, item.results.parent)
    return Done(item, ANALYSED, tuple(files), refusal, model.version)
