"""`xraydesk pacs echo|find|retrieve|send|send-results|listen`: the PACS side of the app on the command line.
NODE is AET@HOST:PORT (DIMSE), an http(s):// DICOMweb URL, or the name of a node saved in the app's
settings. Errors are one line naming the node and the reason.

Exit codes: 0 done; 1 some files failed, the retrieve was partial or found nothing to retrieve, or
more studies matched than a find keeps; 2 usage error, unusable settings, or the node unreachable or
refusing the operation; 130 interrupted."""

import argparse
import contextlib
import csv
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_UNUSABLE,
    Progress,
    stop_on_signals,
)
from xraydesk.pacs.client import client_for
from xraydesk.pacs.local_store import ALREADY_STORED, LocalStore, StoredFile, default_store_root
from xraydesk.pacs.nodes import AUTH_BASIC, AUTH_BEARER, DIMSE, LocalSide, Node, PacsError, load_settings, parse_node
from xraydesk.pacs.types import DEFAULT_MODALITIES, StudyQuery, StudyRow, parse_date_range, parse_modalities

PROGRAM = "xraydesk pacs"
PASSWORD_VARIABLE = "XRAYDESK_PACS_PASSWORD"
TOKEN_VARIABLE = "XRAYDESK_PACS_TOKEN"
TABLE_COLUMNS = ("Patient", "ID", "Date", "Description", "Modalities", "Images", "Study UID", "Accession")
EPILOG = ("NODE: AET@HOST:PORT (DIMSE), an http(s):// DICOMweb URL, or a node saved in the app's settings. "
          "Exit codes: 0 done, 1 some files failed, the retrieve was partial or the find cut off, 2 usage error "
          f"or the node unreachable / refusing, 130 interrupted. {RESEARCH_USE_NOTICE}")


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def _date_range(text: str) -> str:
    try:
        return parse_date_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--our-aet", help="our calling AE title (default: from the app's settings, XRAYDESK)")
    common.add_argument("--timeout", type=float, help="seconds to wait for any answer (default: settings, 10)")
    common.add_argument("--user", help=f"DICOMweb basic auth user; the password is read from ${PASSWORD_VARIABLE}")
    common.add_argument("--bearer", action="store_true", help=f"DICOMweb bearer auth; the token is read from "
                                                              f"${TOKEN_VARIABLE}")
    common.add_argument("--no-verify-tls", action="store_true", help="do not verify the https certificate")
    common.add_argument("-v", "--verbose", action="store_true", help="log the DICOM conversation (pynetdicom)")

    parser = argparse.ArgumentParser(prog=PROGRAM, epilog=EPILOG, description=(
        "Talk to a PACS: verify, find studies, retrieve them into a folder, send files, or receive pushed studies."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    echo = commands.add_parser("echo", parents=[common], epilog=EPILOG, help="test the connection (C-ECHO / QIDO-RS)")
    echo.add_argument("node", metavar="NODE")
    echo.set_defaults(run=_echo)

    find = commands.add_parser("find", parents=[common], epilog=EPILOG, help="find studies (C-FIND / QIDO-RS)")
    find.add_argument("node", metavar="NODE")
    find.add_argument("--patient-name", default="", help="patient name, wildcards * and ? allowed")
    find.add_argument("--patient-id", default="")
    find.add_argument("--date", type=_date_range, help="study date: YYYYMMDD, FROM-TO, FROM- or -TO")
    find.add_argument("--modality", default=",".join(DEFAULT_MODALITIES),
                      help="modalities in study, comma-separated (default: CR,DX; '' for any)")
    find.add_argument("--accession", default="", help="accession number")
    find.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    find.set_defaults(run=_find)

    retrieve = commands.add_parser("retrieve", parents=[common], epilog=EPILOG,
                                   help="retrieve a study (C-GET, C-MOVE or WADO-RS)")
    retrieve.add_argument("node", metavar="NODE")
    retrieve.add_argument("study_uid", metavar="STUDY_UID")
    retrieve.add_argument("--to", type=Path, help=f"store folder (default: the app's store, {default_store_root()})")
    retrieve.add_argument("--move", action="store_true", help=(
        "C-MOVE to our listener (for a PACS without C-GET); it listens on the settings' port meanwhile"))
    retrieve.add_argument("--port", type=int, help="our listener's port for --move (default: settings, 11112)")
    retrieve.set_defaults(run=_retrieve)

    send = commands.add_parser("send", parents=[common], epilog=EPILOG, help="send files (C-STORE / STOW-RS)")
    send.add_argument("node", metavar="NODE")
    send.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="DICOM files or folders")
    send.set_defaults(run=_send)

    results = commands.add_parser("send-results", parents=[common], epilog=EPILOG, help=(
        "analyse DICOM images and send their SR and secondary capture into their studies (as the app's Send results)"))
    results.add_argument("node", metavar="NODE")
    results.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="DICOM images or folders")
    results.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    results.set_defaults(run=_send_results)

    listen = commands.add_parser("listen", parents=[common], epilog=EPILOG,
                                 help="receive pushed studies (C-STORE SCP) until Ctrl+C")
    listen.add_argument("--aet", help="our AE title as listener (default: --our-aet or the settings)")
    listen.add_argument("--port", type=int, help="port (default: settings, 11112)")
    listen.add_argument("--bind", help="interface to listen on (default: settings, 127.0.0.1)")
    listen.add_argument("--to", type=Path, help=f"store folder (default: the app's store, {default_store_root()})")
    listen.add_argument("--allow", action="append", default=[], metavar="AET",
                        help="a calling AE title to accept (repeatable; added to the settings' list)")
    listen.add_argument("--allow-any", action="store_true", help="accept any calling AE title")
    listen.set_defaults(run=_listen)
    return parser


def pacs_main(argv: list[str], analyser=None) -> int:
    """`analyser`: for send-results, an Analyser already loaded (a test's); --models then does not apply."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a usage error (2), already printed by argparse
        return int(exit_request.code or 0)
    args.analyser = analyser
    _configure_logging(args.verbose)
    try:
        settings = load_settings()
        local = _local_side(args, settings.local)
        code = args.run(args, local, settings)
        sys.stdout.flush()  # here, where a reader gone away is caught, not at the interpreter's exit
        return code
    except PacsError as error:
        _say(f"{args.command}: {error}")
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        _say(f"{args.command}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`find --csv | head`): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush does not fail again
        return EXIT_OK


def _configure_logging(verbose: bool) -> None:
    """Our warnings (an object refused, a name clash in the store) on stderr; pynetdicom's own
    log only with --verbose, since every failure is already said in one line."""
    logging.basicConfig(format=f"{PROGRAM}: %(message)s", level=logging.INFO if verbose else logging.WARNING)
    logging.getLogger("pynetdicom").setLevel(logging.INFO if verbose else logging.CRITICAL)


def _local_side(args, saved: LocalSide) -> LocalSide:
    local = replace(saved, ae_title=args.our_aet or saved.ae_title, timeout_s=args.timeout or saved.timeout_s)
    if getattr(args, "port", None) is not None:
        local = replace(local, listener_port=args.port)
    if args.command == "listen":
        local = replace(local, ae_title=args.aet or local.ae_title, listener_interface=args.bind or
                        local.listener_interface, allowed_calling_aets=[*local.allowed_calling_aets, *args.allow],
                        allow_any_calling_aet=args.allow_any or local.allow_any_calling_aet)
    return local


def _node(args, settings) -> Node:
    node = parse_node(args.node, settings)
    if args.user or args.bearer:
        if node.kind == DIMSE:
            raise PacsError(node.label, "--user and --bearer apply to DICOMweb nodes only")
        variable = TOKEN_VARIABLE if args.bearer else PASSWORD_VARIABLE
        if variable not in os.environ:
            raise PacsError(node.label, f"set ${variable} to the {'token' if args.bearer else 'password'}")
        node = replace(node, auth=AUTH_BEARER if args.bearer else AUTH_BASIC, username=args.user or "",
                       secret=os.environ[variable])
    if args.no_verify_tls:
        node = replace(node, verify_tls=False)
    return node


@contextlib.contextmanager
def _cancel_on_interrupt() -> Iterator[threading.Event]:
    """The first Ctrl+C asks the operation to stop cleanly (abort, files so far kept); a second
    one interrupts at once."""
    stop = threading.Event()

    def request_stop(_signal, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _say("stopping (Ctrl+C again to interrupt at once)")

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress_bar():
    """A progress callback drawing on stderr when it is a terminal (nothing in scripts and logs)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    bar = Progress(0)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.advance(done - bar.done)

    return update, bar.close


def _echo(args, local: LocalSide, settings) -> int:
    node = _node(args, settings)
    seconds = client_for(node, local).echo()
    service = "C-ECHO" if node.kind == DIMSE else "QIDO-RS"
    print(f"{node.label} answered {service} in {seconds * 1000:.0f} ms")
    return EXIT_OK


def _find(args, local: LocalSide, settings) -> int:
    node = _node(args, settings)
    query = StudyQuery(patient_name=args.patient_name, patient_id=args.patient_id, study_date=args.date or "",
                       modalities=parse_modalities(args.modality), accession=args.accession)
    rows = client_for(node, local).find(query)
    cells = [_cells(row) for row in rows]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([TABLE_COLUMNS, *cells])
    elif rows:
        widths = [max(len(str(line[column])) for line in [TABLE_COLUMNS, *cells]) for column in range(len(TABLE_COLUMNS))]
        for line in [TABLE_COLUMNS, *cells]:
            print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
    else:
        _say(f"find: no study on {node.label} matches")
    return EXIT_SOME_FAILED if rows.truncated else EXIT_OK


def _cells(row: StudyRow) -> tuple:
    return (row.patient_name, row.patient_id, row.study_date, row.description, "/".join(row.modalities),
            "" if row.images is None else row.images, row.study_uid, row.accession)


def _retrieve(args, local: LocalSide, settings) -> int:
    node = _node(args, settings)
    store = LocalStore(args.to)
    progress, close_progress = _progress_bar()
    with _cancel_on_interrupt() as stop:
        try:
            outcome = client_for(node, local).retrieve(args.study_uid, store, move=args.move, progress=progress,
                                                       should_stop=stop.is_set)
        finally:
            close_progress()
    already = sum(1 for stored in outcome.files if stored.outcome == ALREADY_STORED)
    count = f"{len(outcome.files)} of {outcome.total}" if outcome.total > len(outcome.files) else len(outcome.files)
    print(f"retrieved {count} file(s) of study {args.study_uid} into {store.study_folder(args.study_uid)}"
          + (f" ({already} already there)" if already else "")
          + (f"; {outcome.failed} failed: {outcome.reason}" if outcome.failed else "")
          + ("; cancelled" if outcome.cancelled else ""))
    if outcome.cancelled:
        return EXIT_INTERRUPTED
    if not outcome.files and not outcome.failed:
        _say(f"retrieve: {node.label} sent nothing for study {args.study_uid} (unknown study, or none of its "
             "objects is an image or report XRayDesk keeps)")
    return EXIT_SOME_FAILED if outcome.failed or not outcome.files else EXIT_OK


def _send(args, local: LocalSide, settings) -> int:
    node = _node(args, settings)
    with _cancel_on_interrupt() as stop:
        outcomes = client_for(node, local).send(args.paths, should_stop=stop.is_set)
    for outcome in outcomes:
        print(f"{'stored' if outcome.ok else 'FAILED'}  {outcome.path}" + ("" if outcome.ok else f": {outcome.message}"))
    sent = sum(outcome.ok for outcome in outcomes)
    print(f"sent {sent} of {len(outcomes)} file(s) to {node.label}")
    if not outcomes:
        _say("send: no files found")
    return EXIT_OK if outcomes and sent == len(outcomes) else EXIT_SOME_FAILED


def _send_results(args, local: LocalSide, settings) -> int:
    """The app's Send results job (xraydesk.jobs.send_results) on each image found, analysed first."""
    from xraydesk.ai.analysis import Analyser
    from xraydesk.ai.model import ModelUnavailableError
    from xraydesk.imaging import IMAGE, failure_reason, load_image, scan_paths
    from xraydesk.jobs.send_results import send_results

    node = _node(args, settings)
    paths = [entry.path for entry in scan_paths(args.paths) if entry.kind == IMAGE]
    if not paths:
        _say("send-results: no images found")
        return EXIT_SOME_FAILED
    analyser = args.analyser or Analyser(args.models)
    analyses, unreadable = {}, {}
    with _cancel_on_interrupt() as stop:
        for path in paths:
            if stop.is_set():
                return EXIT_INTERRUPTED
            try:
                analyses[path] = analyser.analyse(load_image(path))
            except ModelUnavailableError as error:
                _say(f"send-results: {error}")
                return EXIT_UNUSABLE
            except Exception as error:  # noqa: BLE001 - one unreadable image is named, the others are sent
                unreadable[path] = f"FAILED  {path}: {failure_reason(error)}"
        outcomes = send_results(node, local, [path for path in paths if path in analyses], analyses, load_image,
                                LocalStore(), should_stop=stop.is_set)
    for path in paths:
        print(unreadable.get(path) or next(f"{'sent' if outcome.ok else 'FAILED'}  {path}: {outcome.message}"
                                          for outcome in outcomes if outcome.path == path))
    sent = sum(outcome.ok for outcome in outcomes)
    print(f"sent the results of {sent} of {len(paths)} image(s) to {node.label}")
    return EXIT_OK if sent == len(paths) else EXIT_SOME_FAILED


def _listen(args, local: LocalSide, settings) -> int:
    from xraydesk.pacs.dimse import Listener

    store = LocalStore(args.to)

    def stored(file: StoredFile) -> None:
        print(f"{file.outcome}  {file.path}", flush=True)

    stop = threading.Event()
    with Listener(local, store, on_stored=stored) as listener, stop_on_signals(stop):
        accepted = "any calling AE title" if local.allow_any_calling_aet else ", ".join(listener.calling_aets)
        print(f"listening as {listener.address} (accepting {accepted}), storing into {store.root}; Ctrl+C stops",
              flush=True)
        while not stop.wait(timeout=1):  # a timed wait lets the signal handler run promptly
            pass
    print("stopped", flush=True)
    return EXIT_OK
