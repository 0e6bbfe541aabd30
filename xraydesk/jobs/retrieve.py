"""Retrieving studies from a PACS into the local store, one after the other, with progress, Cancel
and one summary line: the app's Query / Retrieve runs it on a worker, the command line in the
foreground."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xraydesk.jobs.words import count_words
from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import LocalStore
from xraydesk.pacs.nodes import DIMSE, LocalSide, Node, PacsError
from xraydesk.pacs.types import RetrieveOutcome, StudyRow

Report = Callable[[tuple[str, int, int]], None]  # (words, done, total: 0 while unknown)


@dataclass(frozen=True)
class StudyRetrieval:
    """What became of one study: its outcome, or why it failed as a whole."""

    row: StudyRow
    outcome: RetrieveOutcome | None
    failure: str = ""


def retrieve_studies(node: Node, local: LocalSide, rows: list[StudyRow], store: LocalStore, move: bool = False,
                     listener=None, report: Report = lambda step: None,
                     should_stop: Callable[[], bool] = lambda: False) -> list[StudyRetrieval]:
    """Retrieves the studies one after the other (C-GET, C-MOVE when `move`, or WADO-RS); one
    StudyRetrieval per study tried. A C-MOVE goes to `listener` (the app's own, when it runs; the
    client starts a temporary one otherwise)."""
    node.check()
    client = client_for(node, local)
    extra = {"listener": listener} if move and listener is not None and node.kind == DIMSE else {}
    results = []
    for index, row in enumerate(rows):
        if should_stop():
            break
        words = f"Study {index + 1} of {len(rows)}" if len(rows) > 1 else "Retrieving"
        report((words, 0, row.images or 0))
        try:
            outcome = client.retrieve(row.study_uid, store, move=move, should_stop=should_stop,
                                      progress=lambda done, total, words=words: report((words, done, total)),
                                      **extra)
        except PacsError as error:
            results.append(StudyRetrieval(row, None, str(error)))
            continue
        results.append(StudyRetrieval(row, outcome))
        if outcome.cancelled:
            break
    return results


def retrieved_folders(results: list[StudyRetrieval], store: LocalStore) -> list[Path]:
    """The store's study folders that received images, in order."""
    return list(dict.fromkeys(store.study_folder(stored.study_uid)
                              for result in results if result.outcome for stored in result.outcome.files))


def retrieve_summary(results: list[StudyRetrieval], asked: int) -> str:
    outcomes = [result.outcome for result in results if result.outcome]
    images = sum(len(outcome.files) for outcome in outcomes)
    studies = sum(1 for outcome in outcomes if outcome.files)
    failures = [result.failure for result in results if result.failure]
    refused = sum(outcome.failed for outcome in outcomes)
    cancelled = any(outcome.cancelled for outcome in outcomes) or len(results) < asked
    retrieved = count_words(asked, "study", "studies") if studies == asked else f"{studies} of {asked} studies"
    words = [f"Retrieved {retrieved} ({count_words(images, 'object', 'objects')})"]
    reasons = [outcome.reason for outcome in outcomes if outcome.reason]
    if refused:
        words.append(f"{count_words(refused, 'object', 'objects')} not received" + (f" ({reasons[0]})" if reasons else ""))
    if cancelled:
        words.append("cancelled")
    words += failures
    return "; ".join(words) + "."
