"""Command-line entry point: `xraydesk [PATH ...]` opens the viewer; the subcommands below run
without Qt. Heavy modules are imported only by the command that needs them, so start-up stays fast."""

import sys

from xraydesk import RESEARCH_USE_NOTICE

# name -> (module:function taking argv and returning an exit code, one-line summary for --help)
COMMANDS = {
    "predict": ("xraydesk.commands.predict:predict_main",
                "analyse images into a CSV (and DICOM SR/SC with --dicom-out)"),
    "report": ("xraydesk.commands.report:report_main", "PDF summary of files/folders, with a trend page per patient"),
    "export": ("xraydesk.commands.export:export_main", "de-identified copies of DICOM images (--deidentify)"),
    "pacs": ("xraydesk.commands.pacs:pacs_main", "echo, find, retrieve, send and listen (DIMSE or DICOMweb)"),
    "evaluate": ("xraydesk.commands.training:evaluate_main", "evaluate the shipped model on the shared data"),
    "train": ("xraydesk.commands.training:train_main", "train the model from the shared data (hours on a CPU)"),
}


def usage() -> str:
    rows = "\n".join(f"  {name:<10}{summary}" for name, (_, summary) in COMMANDS.items())
    return (f"usage: xraydesk [PATH ...] | xraydesk COMMAND [--help]\n\n"
            f"Without a command, opens the viewer (xraydesk --help-viewer for its options).\n\n"
            f"commands:\n{rows}\n\n{RESEARCH_USE_NOTICE}")


def _run_command(name: str, argv: list[str]) -> int:
    from importlib import import_module

    module_name, function_name = COMMANDS[name][0].split(":")
    return getattr(import_module(module_name), function_name)(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return _run_command(argv[0], argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    from xraydesk.ui.app import run_app

    return run_app(["--help" if arg == "--help-viewer" else arg for arg in argv])


if __name__ == "__main__":
    sys.exit(main())
