"""`xraydesk train` and `xraydesk evaluate`."""

import argparse
import logging
from pathlib import Path

from xraydesk.training.data import REPO_ROOT


def _logging(log_file: Path | None = None) -> None:
    handlers = [logging.StreamHandler()]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", handlers=handlers)


def train_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xraydesk train", description=(
        "Train the shipped models from ../shared/data/cxr (seeded; rerun to resume after an interruption), "
        "then calibrate on val and write models/."))
    parser.add_argument("--config", type=Path, help="JSON file overriding TrainConfig fields")
    args = parser.parse_args(argv)

    from xraydesk.ai.model import ChestXRayModel
    from xraydesk.training.finalize import finalize
    from xraydesk.training.train import TrainConfig, train
    from xraydesk.training.trend_report import store_limits, trend_report

    config = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    _logging(Path(config.run_dir) / "train.log")
    run_dir = train(config)
    metadata = finalize(run_dir, Path(config.models_dir), config.data_root, config.classifier_members)
    # The severity trend's "no clear change" limits belong to the model: measured anew on val.
    store_limits(Path(config.models_dir), trend_report(ChestXRayModel.load(config.models_dir), config.data_root))
    logging.getLogger("xraydesk.train").info("wrote %s (%s %s)", config.models_dir,
                                             metadata["name"], metadata["version"])
    return 0


def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xraydesk evaluate",
                                     description="Evaluate the shipped models and write a report folder.")
    parser.add_argument("--split", choices=["val", "test", "val+test"], default="val")
    parser.add_argument("--models", type=Path, help="model folder (default: models/)")
    parser.add_argument("--out", type=Path, help="report folder (default: reports/<split>)")
    args = parser.parse_args(argv)
    _logging()

    from xraydesk.ai.model import ChestXRayModel
    from xraydesk.training.evaluate import evaluate_split
    from xraydesk.training.external_report import rsna_report
    from xraydesk.training.heatmap_report import heatmap_montage, heatmap_report
    from xraydesk.training.input_check_report import input_check_report
    from xraydesk.training.report_files import write_report

    model = ChestXRayModel.load(args.models)
    report, results = evaluate_split(model, args.split.split("+"))
    report["input_check_non_chest"] = input_check_report(model)
    report["heatmaps"] = heatmap_report(model, results.examples)
    report["external_rsna"] = rsna_report(model)
    out = args.out or REPO_ROOT / "reports" / args.split
    write_report(report, results, model.metadata["operating_points"]["zone"]["threshold"], out)
    heatmap_montage(model, results.examples, out / "heatmaps.png")
    print((out / "summary.md").read_text())
    return 0
