"""Command-line entry point: `xraydesk [PATH ...]` opens the viewer; `train`, `evaluate` and
`predict` run the model side without Qt. Heavy modules are imported only by the command that needs
them, so start-up stays fast."""

import sys

MODEL_COMMANDS = {
    "train": "xraydesk.training.commands:train_main",
    "evaluate": "xraydesk.training.commands:evaluate_main",
    "predict": "xraydesk.ai.batch:predict_main",
}


def _run_model_command(name: str, argv: list[str]) -> int:
    from importlib import import_module

    module_name, function_name = MODEL_COMMANDS[name].split(":")
    return getattr(import_module(module_name), function_name)(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in MODEL_COMMANDS:
        return _run_model_command(argv[0], argv[1:])
    from xraydesk.ui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
