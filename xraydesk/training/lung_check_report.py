"""How often the lung-mask check withholds severity on a split of the shared data, by source and label, and
why: the shipped segmenter on each film, the check as the app makes it. With --montage, sheets of the
rejected films with their mask outlined in red, to look at what the check calls implausible."""

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from xraydesk.ai.lung_check import check_lung_mask
from xraydesk.ai.model import default_model_dir, load_keras_model
from xraydesk.ai.outputs import LUNGS_FILE
from xraydesk.ai.zones import lung_mask
from xraydesk.training import data

BATCH = 32
SHEET_COLUMNS, SHEET_ROWS = 6, 5


def lung_probabilities(inputs: np.ndarray, model_dir: Path | None = None) -> np.ndarray:
    """(N, 224, 224) lung probability of each uint8 model input, from the segmenter alone."""
    import tensorflow as tf

    lungs = load_keras_model(Path(model_dir or default_model_dir()) / LUNGS_FILE)
    segment = tf.function(lambda images: tf.sigmoid(lungs(images, training=False))[..., 0])
    return np.concatenate([segment(inputs[start:start + BATCH].astype(np.float32) / 255.0).numpy()
                           for start in range(0, len(inputs), BATCH)])


def rejected_films(inputs: np.ndarray, probabilities: np.ndarray) -> list[tuple[int, str]]:
    """(index, reason) of each film whose lung mask the check calls implausible."""
    rejected = []
    for index, (image, lungs) in enumerate(zip(inputs, probabilities)):
        check = check_lung_mask(lung_mask(lungs), image[..., 0] / 255.0)
        if not check.plausible:
            rejected.append((index, check.reason))
    return rejected


def rates(examples: list, rejected: list[tuple[int, str]], field: str) -> dict[str, str]:
    totals = Counter(getattr(example, field) for example in examples)
    failed = Counter(getattr(examples[index], field) for index, _ in rejected)
    return {key: f"{failed[key]}/{total} ({failed[key] / total:.2%})" for key, total in sorted(totals.items())}


def write_montage(folder: Path, examples: list, inputs: np.ndarray, probabilities: np.ndarray,
                  rejected: list[tuple[int, str]]) -> list[Path]:
    """PNG sheets of the rejected films, each numbered as in the printed list, mask outline in red."""
    from scipy import ndimage

    folder.mkdir(parents=True, exist_ok=True)
    per_sheet = SHEET_COLUMNS * SHEET_ROWS
    sheets = []
    for first in range(0, len(rejected), per_sheet):
        films = rejected[first:first + per_sheet]
        sheet = Image.new("RGB", (SHEET_COLUMNS * 226, -(-len(films) // SHEET_COLUMNS) * 226))
        for slot, (index, _) in enumerate(films):
            mask = lung_mask(probabilities[index])
            film = np.repeat(inputs[index], 3, axis=-1)
            film[mask & ~ndimage.binary_erosion(mask)] = (255, 40, 40)
            tile = Image.fromarray(film)
            ImageDraw.Draw(tile).text((3, 3), str(first + slot + 1), fill=(255, 255, 0))
            sheet.paste(tile, (slot % SHEET_COLUMNS * 226, slot // SHEET_COLUMNS * 226))
        sheets.append(folder / f"rejected-{first // per_sheet + 1}.png")
        sheet.save(sheets[-1])
    return sheets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xraydesk.training.lung_check_report",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--models", type=Path, help="model folder (default: the shipped models/)")
    parser.add_argument("--montage", type=Path, metavar="DIR", help="write sheets of the rejected films here")
    args = parser.parse_args(argv)
    examples = [example for example in data.load_examples() if example.split == args.split]
    inputs = data.model_inputs(examples)
    probabilities = lung_probabilities(inputs, args.models)
    rejected = rejected_films(inputs, probabilities)
    print(f"{args.split}: lung mask implausible on {len(rejected)} of {len(examples)} films "
          f"({len(rejected) / len(examples):.2%})")
    for field in ("source", "label"):
        print(f"by {field}: " + ", ".join(f"{key} {rate}" for key, rate in rates(examples, rejected, field).items()))
    for number, (index, reason) in enumerate(rejected, 1):
        print(f"{number:3d}. {examples[index].image}: {reason}")
    if args.montage:
        for sheet in write_montage(args.montage, examples, inputs, probabilities, rejected):
            print(f"wrote {sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
