"""load_image and render_default on the real files in ../shared/data/dicom and on synthetic ones."""

import hashlib
import shutil

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, pixel_array
from pydicom.uid import MPEG2MPML, BasicTextSRStorage

from xraydesk.imaging import (
    MAX_PIXELS,
    ImageLoadError,
    load_image,
    loading,
    render_default,
)
from xraydesk.imaging.decoding import reduced_first_frame

CHEST_FILES = [
    "barre/CR-MONO1-10-chest",
    "barre/gdcm-CR-MONO1-10-chest.dcm",
    "canon/canon_dx_chest_mono1_j2k.dcm",
    "wg04/RG1_UNCR.dcm",
    "wg04/RG1_J2KR.dcm",
    "nih/*.dcm",
    "siim/*.dcm",
    "rsna/*.dcm",
]


def chest_paths(dicom_dir):
    return [path for pattern in CHEST_FILES for path in sorted(dicom_dir.glob(pattern))]


def lung_and_mediastinum(display: np.ndarray) -> tuple[float, float]:
    """Mean display value of both mid-lung fields and of the mediastinum in a PA chest image."""
    height, width = display.shape
    rows = slice(int(0.3 * height), int(0.6 * height))
    lungs = np.concatenate([display[rows, int(0.2 * width) : int(0.35 * width)].ravel(),
                            display[rows, int(0.65 * width) : int(0.8 * width)].ravel()])  # fmt: skip
    mediastinum = display[rows, int(0.46 * width) : int(0.54 * width)]
    return float(lungs.mean()), float(mediastinum.mean())


def test_every_real_chest_file_shows_lungs_darker_than_mediastinum(dicom_dir):
    paths = chest_paths(dicom_dir)
    assert len(paths) == 36
    margins = []
    for path in paths:
        display = render_default(load_image(path))
        lungs, mediastinum = lung_and_mediastinum(display)
        assert display.dtype == np.uint8 and display.ndim == 2
        # A wrong inversion flips the sign; opacified lungs (two RSNA cases) narrow the margin.
        assert lungs < mediastinum, f"{path.name}: lungs {lungs:.0f}, mediastinum {mediastinum:.0f}"
        margins.append(mediastinum - lungs)
    assert np.median(margins) > 40


def test_monochrome1_with_inverse_shape_is_inverted_once(dicom_dir):
    image = load_image(dicom_dir / "canon/canon_dx_chest_mono1_j2k.dcm")
    assert image.dataset.PhotometricInterpretation == "MONOCHROME1"
    assert image.dataset.PresentationLUTShape == "INVERSE"
    stored_lungs, stored_mediastinum = lung_and_mediastinum(image.pixels)
    shown_lungs, shown_mediastinum = lung_and_mediastinum(render_default(image))
    assert stored_lungs > stored_mediastinum  # MONOCHROME1 stores air bright…
    assert shown_lungs < shown_mediastinum  # …and it is shown dark


def test_monochrome2_with_inverse_shape_is_inverted(make_dicom):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    plain = render_default(load_image(make_dicom("plain.dcm", ramp)))
    inverse = render_default(load_image(make_dicom("inverse.dcm", ramp, PresentationLUTShape="INVERSE")))
    np.testing.assert_array_equal(inverse, 255 - plain)


def test_lossless_jpeg2000_pair_gives_identical_pixels(dicom_dir):
    uncompressed = load_image(dicom_dir / "wg04/RG1_UNCR.dcm")
    jpeg2000 = load_image(dicom_dir / "wg04/RG1_J2KR.dcm")
    assert uncompressed.pixels.shape == (1955, 1841)
    assert uncompressed.bits_stored == 15 and uncompressed.pixels.max() > 255
    np.testing.assert_array_equal(uncompressed.pixels, jpeg2000.pixels)


def test_file_without_preamble_or_meta_opens_like_its_part10_copy(dicom_dir):
    headerless = load_image(dicom_dir / "barre/CR-MONO1-10-chest")
    part10 = load_image(dicom_dir / "barre/gdcm-CR-MONO1-10-chest.dcm")
    np.testing.assert_array_equal(headerless.pixels, part10.pixels)
    assert any("no DICOM preamble" in notice for notice in headerless.notices)
    assert headerless.keys.modality == "CR" and headerless.body_part == "CHEST"


def test_compressed_transfer_syntaxes_decode(dicom_dir):
    for pattern in ["rsna/0004*.dcm", "nonchest/CR-ModalitySequenceLUT__teeth.dcm", "nonchest/RG2_J2KI__hip.dcm"]:
        path = next(dicom_dir.glob(pattern))
        image = load_image(path)
        assert image.pixels.dtype == np.float32 and image.pixels.std() > 10, path.name


def test_modality_lut_sequence_is_applied(dicom_dir):
    image = load_image(dicom_dir / "nonchest/CR-ModalitySequenceLUT__teeth.dcm")
    dataset = pydicom.dcmread(image.path)
    assert "ModalityLUTSequence" in dataset
    np.testing.assert_array_equal(image.pixels, apply_modality_lut(pixel_array(dataset), dataset))
    assert not np.array_equal(image.pixels, pixel_array(dataset))


def test_rescale_slope_and_intercept_give_modality_values(make_dicom):
    stored = np.array([[0, 100], [200, 4095]], dtype=np.uint16)
    image = load_image(make_dicom("ct.dcm", stored, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024))
    np.testing.assert_array_equal(image.pixels, stored * 2.0 - 1024)


def test_pixel_spacing_is_kept_and_zero_spacing_means_unknown(dicom_dir):
    canon = load_image(dicom_dir / "canon/canon_dx_chest_mono1_j2k.dcm")
    assert canon.pixel_spacing == pytest.approx((0.16, 0.16))
    assert canon.imager_pixel_spacing == pytest.approx((0.16, 0.16))
    assert load_image(dicom_dir / "wg04/RG1_UNCR.dcm").pixel_spacing is None


def test_multiple_header_windows_and_voi_lut_function_are_read(make_dicom):
    image = load_image(make_dicom("w.dcm", WindowCenter=[1000, 2000], WindowWidth=[500, 4000],
                                  WindowCenterWidthExplanation=["SOFT", "BONE"], VOILUTFunction="SIGMOID"))  # fmt: skip
    assert [(w.center, w.width, w.label, w.function) for w in image.header_windows] == [
        (1000, 500, "SOFT", "SIGMOID"),
        (2000, 4000, "BONE", "SIGMOID"),
    ]


def test_multiframe_shows_first_frame_with_notice(make_dicom):
    frames = np.stack([np.full((8, 8), value, dtype=np.uint16) for value in (10, 20, 30)])
    image = load_image(make_dicom("multi.dcm", frames))
    assert image.pixels.shape == (8, 8) and np.all(image.pixels == 10)
    assert image.frame_count == 3 and "3 frames" in image.notices[0]


def test_rgb_dicom_is_converted_to_grayscale_with_notice(make_dicom):
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    image = load_image(make_dicom("rgb.dcm", rgb, photometric="RGB"))
    assert image.is_color_source and image.pixels.ndim == 2
    assert image.pixels[0, 0] == pytest.approx(0.299 * 200)
    assert "grayscale" in image.notices[0]


def test_8bit_png_renders_as_stored_and_round_trips_a_dicom_rendering(dicom_dir, tmp_path):
    shown = render_default(load_image(dicom_dir / "wg04/RG1_UNCR.dcm"))
    Image.fromarray(shown).save(tmp_path / "shown.png")
    reloaded = load_image(tmp_path / "shown.png")
    assert reloaded.source_format == "PNG" and reloaded.keys.modality == "" and reloaded.dataset is None
    np.testing.assert_array_equal(render_default(reloaded), shown)


def test_8bit_dicom_without_window_renders_as_stored(dicom_dir):
    image = load_image(next(dicom_dir.glob("rsna/*.dcm")))
    np.testing.assert_array_equal(render_default(image), image.pixels.astype(np.uint8))


def test_16bit_png_keeps_full_depth(tmp_path):
    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16) % 4096
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    image = load_image(tmp_path / "deep.png")
    assert image.bits_stored == 16
    np.testing.assert_array_equal(image.pixels, pixels)


def test_gray_jpeg_stored_as_rgb_is_not_a_colour_source(tmp_path):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    Image.fromarray(gray).convert("RGB").save(tmp_path / "gray.jpg", quality=100)
    image = load_image(tmp_path / "gray.jpg")
    assert image.source_format == "JPEG" and not image.is_color_source


def test_colour_png_and_palette_png_are_colour_sources(tmp_path):
    colour = np.zeros((16, 16, 3), dtype=np.uint8)
    colour[:, :8] = (255, 0, 0)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "palette.png")
    for name in ("colour.png", "palette.png"):
        image = load_image(tmp_path / name)
        assert image.is_color_source and image.pixels.ndim == 2 and image.notices, name


# ------------------------------------------------------------------ bad input


def truncated_copy(source, target, fraction):
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def unsupported_syntax_file(make_dicom):
    path = make_dicom("mpeg.dcm", np.zeros((8, 8), dtype=np.uint8))
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = MPEG2MPML
    dataset.PixelData = encapsulate([b"\x00" * 64])
    dataset["PixelData"].VR = "OB"
    dataset.save_as(path)
    return path


def huge_png(tmp_path):
    Image.new("1", (10_000, 10_000)).save(tmp_path / "huge.png")
    return tmp_path / "huge.png"


def huge_dicom(make_dicom):
    path = make_dicom("huge.dcm", np.zeros((8, 8), dtype=np.uint16))
    dataset = pydicom.dcmread(path)
    dataset.Rows = dataset.Columns = 10_000
    dataset.save_as(path)
    return path


def truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8)).save(tmp_path / "full.png")
    return truncated_copy(tmp_path / "full.png", tmp_path / "cut.png", 0.5)


def write_bytes(path, data):
    path.write_bytes(data)
    return path


# name: (builder(dicom_dir, tmp_path, make_dicom, make_pixelless_dicom) -> path, expected reason)
BAD_INPUTS = {
    "zero bytes": (lambda d, t, m, p: write_bytes(t / "empty.dcm", b""), "file is empty (0 bytes)"),
    "truncated": (lambda d, t, m, p: truncated_copy(d / "wg04/RG1_UNCR.dcm", t / "cut.dcm", 0.5), "truncated"),
    "truncated j2k": (lambda d, t, m, p: truncated_copy(d / "wg04/RG1_J2KR.dcm", t / "cut.dcm", 0.3), "truncated"),
    "truncated png": (lambda d, t, m, p: truncated_png(t), "truncated"),
    "text named .dcm": (lambda d, t, m, p: write_bytes(t / "notes.dcm", b"notes\n" * 40), "not a DICOM, PNG or JPEG"),
    "corrupt jpeg": (lambda d, t, m, p: write_bytes(t / "bad.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4),
                     "not a readable PNG or JPEG"),
    "no pixel data": (lambda d, t, m, p: p("sr.dcm", BasicTextSRStorage), "no pixel data (Basic Text SR Storage)"),
    "DICOMDIR": (lambda d, t, m, p: d / "dicomdir/DICOMDIR", "no pixel data (DICOMDIR)"),
    "unsupported syntax": (lambda d, t, m, p: unsupported_syntax_file(m), "unsupported transfer syntax 'MPEG2"),
    "huge png": (lambda d, t, m, p: huge_png(t), "image too large"),
    "huge dicom": (lambda d, t, m, p: huge_dicom(m), "image too large (10000 x 10000"),
    "missing": (lambda d, t, m, p: t / "missing.dcm", "file not found"),
    "folder": (lambda d, t, m, p: t, "is a folder"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_error_naming_file_and_reason(case, dicom_dir, tmp_path, make_dicom, make_pixelless_dicom):
    build, reason = BAD_INPUTS[case]
    path = build(dicom_dir, tmp_path, make_dicom, make_pixelless_dicom)
    with pytest.raises(ImageLoadError) as raised:
        load_image(path)
    assert str(raised.value).startswith(f"{path.name}: ")
    assert reason in str(raised.value)
    assert raised.value.path == path


def test_pixel_limit_is_above_real_radiographs():
    assert 4300 * 4300 < MAX_PIXELS < 10_000 * 10_000


def test_source_files_are_opened_read_only_and_left_unchanged(dicom_dir, tmp_path):
    copy = tmp_path / "RG1_J2KR.dcm"
    shutil.copy(dicom_dir / "wg04/RG1_J2KR.dcm", copy)
    copy.chmod(0o444)
    before = (hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns)
    load_image(copy)
    assert (hashlib.sha256(copy.read_bytes()).hexdigest(), copy.stat().st_mtime_ns) == before


# pydicom's own test files (installed with pydicom) cover the syntaxes the shared data lacks.
@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_rle_jpeg_ls_and_jpeg2000_lossless_match_the_uncompressed_original(name):
    original = load_image(get_testdata_file("MR_small.dcm"))
    np.testing.assert_array_equal(load_image(get_testdata_file(name)).pixels, original.pixels)


def test_12_bit_jpeg_extended_decodes():
    image = load_image(get_testdata_file("JPGExtended.dcm"))
    assert image.dataset.file_meta.TransferSyntaxUID.name.startswith("JPEG Extended")
    assert image.bits_stored == 12 and 255 < image.pixels.max() < 4096


def test_rgb_multiframe_gives_first_frame_in_grayscale_with_both_notices():
    image = load_image(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    assert image.pixels.ndim == 2 and image.is_color_source and len(image.notices) == 2


def test_compressed_frames_decode_in_a_helper_process_that_comes_back_if_it_dies(dicom_dir):
    """openjpeg and libjpeg hold the GIL for the whole decode; out of process, the UI thread keeps running."""
    from xraydesk.imaging import decoding

    uncompressed = load_image(dicom_dir / "wg04/RG1_UNCR.dcm")
    jpeg2000 = load_image(dicom_dir / "wg04/RG1_J2KR.dcm")
    assert decoding.decodes_in_helper_process(jpeg2000.dataset)
    assert not decoding.decodes_in_helper_process(uncompressed.dataset)
    helper = decoding._helper._process
    assert helper is not None and helper.poll() is None
    helper.kill()
    helper.wait()
    assert np.array_equal(load_image(dicom_dir / "wg04/RG1_J2KR.dcm").pixels, uncompressed.pixels)
    assert decoding._helper._process.pid != helper.pid


# ------------------------------------------------------------ reduced-resolution previews


def jpeg2000_low_band(values: np.ndarray, axis: int) -> np.ndarray:
    """The low band of JPEG 2000's reversible 5/3 wavelet along `axis` (ISO 15444-1 F.4.8.2
    lifting, symmetric extension at both ends)."""
    samples = np.moveaxis(values, axis, 0)
    count = len(samples)
    even, odd = samples[0::2], samples[1::2]
    right = np.concatenate([samples[2::2], samples[count - 2 : count - 1]])[: len(odd)]
    high = odd - (even[: len(odd)] + right) // 2
    high_before = np.concatenate([high[:1], high])[: len(even)]
    high_after = np.concatenate([high, high[-1:]])[: len(even)]
    return np.moveaxis(even + (high_before + high_after + 2) // 4, 0, axis)


def load_with_preview(path):
    previews = []
    full = load_image(path, on_preview=previews.append)
    return (previews[0] if previews else None), full


def test_jpeg2000_preview_is_exactly_the_low_band_of_the_full_decode(dicom_dir):
    """A lossless film's preview holds what the full decode's wavelet keeps at that resolution (clipped
    to the stored range, as the decoder does), through the same MONOCHROME1 / rescale pipeline."""
    preview, full = load_with_preview(dicom_dir / "canon/canon_dx_chest_mono1_j2k.dcm")
    assert (preview.reduction, preview.full_width, preview.full_height) == (4, 2000, 2128)
    assert preview.image.pixels.shape == (532, 500)
    expected = full.pixels.astype(np.int64)
    for _ in range(2):
        expected = jpeg2000_low_band(jpeg2000_low_band(expected, 0), 1)
    np.testing.assert_array_equal(preview.image.pixels, np.clip(expected, 0, 2**full.bits_stored - 1))
    assert float(full.dataset.RescaleSlope) == 1 and float(full.dataset.RescaleIntercept) == 0
    for field in ("presentation_inverted", "header_windows", "bits_stored", "keys", "notices", "path"):
        assert getattr(preview.image, field) == getattr(full, field)


def test_baseline_jpeg_preview_is_the_block_mean_within_rounding(dicom_dir, monkeypatch):
    monkeypatch.setattr(loading, "PREVIEW_MIN_PIXELS", 0)  # 1024 x 1024 decodes fast enough without one
    preview, full = load_with_preview(next(dicom_dir.glob("siim/*.dcm")))
    assert preview.reduction == 2 and preview.image.pixels.shape == (512, 512)
    block_means = full.pixels.reshape(512, 2, 512, 2).mean(axis=(1, 3))
    difference = np.abs(preview.image.pixels - block_means)
    assert difference.max() <= 3 and difference.mean() < 0.5


def test_no_preview_where_the_full_decode_is_fast(dicom_dir):
    for name in ("wg04/RG1_UNCR.dcm", "rsna/0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm", "barre/CR-MONO1-10-chest"):
        assert load_with_preview(dicom_dir / name)[0] is None


def test_jpeg2000_is_reduced_only_as_far_as_pillow_sizes_it_right(dicom_dir):
    """Pillow rounds a reduced size where openjpeg rounds up: 1841 / 4 would be 460 against 461."""
    dataset = pydicom.dcmread(dicom_dir / "wg04/RG1_J2KR.dcm")
    levels, stored = reduced_first_frame(dataset, 3)
    assert levels == 1 and stored.shape == (978, 921)
