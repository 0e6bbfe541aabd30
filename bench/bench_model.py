"""Model speed and memory: load, one image warm (preprocessing + all outputs), batch throughput.

Usage: python bench/bench_model.py [--images N]. Prints a table; the targets are in the issue."""

import argparse
import resource
import statistics
import time


def _timed(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300, help="PNG images for the throughput run")
    args = parser.parse_args()

    start = time.perf_counter()
    import tensorflow  # noqa: F401  (measured on its own: the app imports it lazily, in the worker)
    import_seconds = time.perf_counter() - start

    from xraydesk.ai.gradcam import GradCam
    from xraydesk.ai.inputs import prepare_image
    from xraydesk.ai.model import ChestXRayModel
    from xraydesk.commands.batch import predict_rows
    from xraydesk.imaging import load_image
    from xraydesk.training.data import default_data_root, load_examples

    start = time.perf_counter()
    model = ChestXRayModel.load()
    load_seconds = time.perf_counter() - start

    root = default_data_root()
    png = root / "cxr" / next(e.image for e in load_examples() if e.split == "val")
    dicom = root / "dicom" / "rsna" / "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"

    def one_image(path):
        model_input, check = prepare_image(load_image(path))
        model.analyse_inputs(model_input[None], [check])
        model.lung_probabilities(model_input[None])

    one_image(png)  # warm-up: traces the tf.functions
    png_seconds = _timed(lambda: one_image(png), 20)
    dicom_seconds = _timed(lambda: one_image(dicom), 20)

    gradcam = GradCam.from_metadata(model.classifiers, model.metadata)
    model_input = prepare_image(load_image(dicom))[0][None]
    gradcam.heatmaps(model_input, "pneumonia")
    gradcam_seconds = _timed(lambda: gradcam.heatmaps(model_input, "covid"), 20)

    paths = [root / "cxr" / e.image for e in load_examples() if e.split == "val"][: args.images]
    start = time.perf_counter()
    rows = list(predict_rows(model, paths))
    throughput = len(rows) / (time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print("| measure | figure | target |")
    print("|---|---|---|")
    print(f"| TensorFlow import | {import_seconds:.2f} s | (not at app start-up) |")
    print(f"| model load (4 models + metadata) | {load_seconds:.2f} s | <= 3 s |")
    print(f"| one PNG, warm: load + preprocess + all outputs + lungs | {png_seconds * 1000:.0f} ms | <= 150 ms |")
    print(f"| one RSNA DICOM (JPEG, 1024^2), warm, same | {dicom_seconds * 1000:.0f} ms | <= 150 ms |")
    print(f"| Grad-CAM, one image, one class (warm) | {gradcam_seconds * 1000:.0f} ms | <= 300 ms |")
    print(f"| batch `predict` throughput ({len(rows)} val PNGs) | {throughput:.1f} images/s | >= 20 images/s |")
    print(f"| peak memory (RSS) | {peak_mb:.0f} MB | |")
    print(f"\nmodel: {model.version}; statuses: "
          f"{ {s: sum(r['status'] == s for r in rows) for s in ('ok', 'rejected', 'error')} }")


if __name__ == "__main__":
    main()
