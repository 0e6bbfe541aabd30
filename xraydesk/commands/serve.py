"""`xraydesk serve --store DIR --send-to NODE ...`: the AI node (xraydesk.jobs.node). A modality or PACS
pushes films to it by C-STORE; each one's result (an SR, and a secondary capture unless the input
check refused it) goes into the film's study at every --send-to node. `--status` prints the queue of
a store and exits, whether its node runs or not.

Exit codes: 0 stopped on request (SIGTERM, Ctrl+C) or status printed; 2 usage error, the model, the
cluster, the store or a node unusable, or the port taken."""

import argparse
import datetime
import logging
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.commands.common import EXIT_OK, EXIT_UNUSABLE, stop_on_signals

PROGRAM = "xraydesk serve"
STATUS_FAILURES_SHOWN = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=(
        "Run the AI node: receive chest X-rays by C-STORE, analyse each one as `xraydesk predict` does, and "
        "send its result (a DICOM SR, and a secondary capture unless refused) into its study at every --send-to "
        "node, retrying while a node is down. Nothing acknowledged is lost, not even by kill -9: a restart "
        "picks up where the node stopped. SIGTERM or Ctrl+C ends the batch in hand and stops."), epilog=(
        "NODE: AET@HOST:PORT (DIMSE), an http(s):// DICOMweb URL, or a node saved in the app's settings; the "
        "other defaults come from those settings too. Exit codes: 0 stopped on request or status printed, 2 usage "
        f"error or something unusable (model, cluster, store, node, port). {RESEARCH_USE_NOTICE}"))
    parser.add_argument("--store", required=True, type=Path, metavar="DIR", help=(
        "the node's folder: its queue (SQLite), the objects received and their results until sent"))
    parser.add_argument("--status", action="store_true", help=(
        "print the queue of --store (received, analysed, sent, failed with reasons, results waiting) and exit"))
    parser.add_argument("--port", type=int, help="port to listen on (default: settings, 11112)")
    parser.add_argument("--aet", help="our AE title, called and calling (default: settings, XRAYDESK)")
    parser.add_argument("--bind", metavar="ADDRESS",
                        help="interface to listen on, 0.0.0.0 for all (default: settings, 127.0.0.1)")
    callers = parser.add_mutually_exclusive_group()
    callers.add_argument("--allow", action="append", default=[], metavar="AET",
                         help="a calling AE title allowed to send (repeat for several; added to the settings' list)")
    callers.add_argument("--allow-any", action="store_true", help="accept any calling AE title")
    parser.add_argument("--send-to", action="append", default=[], metavar="NODE",
                        help="where results go (repeat for several); required unless --status")
    parser.add_argument("--models", type=Path, metavar="DIR", help="model folder (default: the shipped models/)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS", help=(
        "analyse on the Dask cluster whose scheduler is at ADDRESS; --store and --models must be at the same "
        "paths on its workers (a shared file system)"))
    cluster.add_argument("--workers", type=int, metavar="N", help="analyse in N worker processes here (Dask)")
    parser.add_argument("-v", "--verbose", action="store_true", help=(
        "log what the libraries say too: the DICOM conversation (pynetdicom), pydicom's and highdicom's "
        "warnings, Dask"))
    return parser


def _fail(message: str) -> int:
    print(f"{PROGRAM}: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def serve_main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a usage error (2), already printed by argparse
        return int(exit_request.code or 0)
    if args.status:
        return _print_status(args.store)
    if not args.send_to:
        return _fail("say where results go: --send-to NODE (AET@HOST:PORT, a DICOMweb URL or a saved node)")
    if args.workers is not None and args.workers < 1:
        return _fail(f"--workers {args.workers}: give one worker or more")
    _configure_logging(args.verbose)
    try:
        return _serve(args)
    except KeyboardInterrupt:  # while the model or the cluster starts: nothing received yet
        return _fail("interrupted before the node started")


def _configure_logging(verbose: bool) -> None:
    """A line per object received, analysed and sent, and one for each failure, on stderr (a service
    manager's journal); what the libraries say (pynetdicom, pydicom's warnings on a malformed object,
    highdicom, Dask) only with --verbose: every failure is already said in one line."""
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)
    logging.getLogger("xraydesk").setLevel(logging.INFO)
    for library in ("pynetdicom", "pydicom", "highdicom", "distributed", "py.warnings"):
        logging.getLogger(library).setLevel(logging.INFO if verbose else logging.CRITICAL)


def _serve(args) -> int:
    from xraydesk.ai.model import ModelUnavailableError
    from xraydesk.jobs.cluster import ClusterUnavailableError
    from xraydesk.jobs.node import NodeBusyError, NodeStore
    from xraydesk.jobs.queue import QueueError
    from xraydesk.pacs.nodes import PacsError, load_settings, parse_node

    store = NodeStore(args.store)
    try:
        settings = load_settings()
        destinations = [parse_node(text, settings) for text in args.send_to]
        local = _local_side(args, settings.local)
        with store.lock():
            return _run(args, store, local, destinations)
    except (PacsError, NodeBusyError, QueueError, ModelUnavailableError, ClusterUnavailableError) as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(f"{store.root}: {error.strerror or error}")
    except Exception as error:  # one line (the traceback with --verbose); what was received waits
        if args.verbose:
            logging.getLogger(__name__).exception("unforeseen error")
        return _fail(f"stopped by an unforeseen error ({type(error).__name__}: {error}); what was received "
                     "waits in the queue for the next start")


def _local_side(args, saved):
    allowed = [*saved.allowed_calling_aets, *args.allow]
    return replace(saved, ae_title=args.aet or saved.ae_title,
                   listener_port=saved.listener_port if args.port is None else args.port,
                   listener_interface=args.bind or saved.listener_interface, allowed_calling_aets=allowed,
                   allow_any_calling_aet=args.allow_any or saved.allow_any_calling_aet)


@contextmanager
def _analysis(args):
    """This process's analysis, or the Dask cluster's asked for."""
    from xraydesk.jobs.cluster import cluster_client
    from xraydesk.jobs.node import ClusterAnalysis, LocalAnalysis

    if args.scheduler or args.workers:
        if not args.verbose:  # read as distributed is imported, and passed on to the workers it starts
            import dask

            dask.config.set({"logging.distributed": "error"})
        with cluster_client(args.scheduler, args.workers) as client:
            yield ClusterAnalysis(client, args.models)
    else:
        yield LocalAnalysis(args.models)


def _run(args, store, local, destinations) -> int:
    from xraydesk.jobs.node import AiNode

    accepted = "any calling AE title" if local.allow_any_calling_aet else ", ".join(local.allowed_calling_aets)
    logging.getLogger(__name__).info("accepting %s", accepted)
    stop = threading.Event()
    with stop_on_signals(stop):
        AiNode(store, local, destinations).run(stop, partial(_analysis, args))
    print(f"{PROGRAM}: stopped", file=sys.stderr, flush=True)
    return EXIT_OK


def _print_status(store_folder: Path) -> int:
    from xraydesk.jobs.node import NodeStore
    from xraydesk.jobs.queue import FAILED, SKIPPED, NodeQueue, QueueError

    store = NodeStore(store_folder)
    try:
        queue = NodeQueue(store.queue_path, create=False)
        counts, backlog = queue.counts(), queue.backlog()
        set_aside = {state: queue.set_aside_objects(state, STATUS_FAILURES_SHOWN) for state in (FAILED, SKIPPED)}
        queue.close()
    except QueueError as error:
        return _fail(str(error))
    holder = store.running_process()
    print(f"store {store.root}: " + (f"node running (process {holder})" if holder else "no node running"))
    print("  ".join(f"{state} {count}" for state, count in counts.items()))
    for waiting in backlog:
        next_try = datetime.datetime.fromtimestamp(waiting.next_try).isoformat(sep=" ", timespec="seconds")
        print(f"waiting for {waiting.destination}: {waiting.count} object(s), next try {next_try}"
              + (f"; last error: {waiting.error}" if waiting.error else ""))
    for state, objects in set_aside.items():
        if objects:
            shown = f" (latest {len(objects)})" if counts[state] > len(objects) else ""
            print(f"{state}{shown}:")
            for path, reason in objects:
                print(f"  {path}: {reason}")
    return EXIT_OK
