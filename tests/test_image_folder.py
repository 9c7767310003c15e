"""dataset=image_folder: the user's own images, from class subfolders or a flat folder, written here with PIL."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf.errors import MissingMandatoryValue
from PIL import Image

from ganlab.data.image_folder import EXTENSIONS, ImageFolderImages
from ganlab.errors import GanlabError

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def save(path: Path, size: tuple[int, int], color, mode: str = "RGB") -> Path:
    """A uniform ``size = (width, height)`` image of ``color`` in ``mode``, saved as ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def to_model(value: float) -> float:
    return value / 127.5 - 1


def close(actual: torch.Tensor, expected) -> bool:
    """Equal up to float32 rounding of uint8 / 127.5 - 1."""
    return torch.allclose(actual, torch.as_tensor(expected, dtype=actual.dtype).expand_as(actual), atol=1e-6, rtol=0)


@pytest.fixture
def two_classes(tmp_path: Path) -> Path:
    """``cats/`` (3 images) and ``dogs/`` (4, one in a nested folder): sizes and modes RGB, L, RGBA differ."""
    root = tmp_path / "pets"
    save(root / "cats" / "a.png", (40, 30), RED)
    save(root / "cats" / "b.png", (16, 64), 200, mode="L")
    save(root / "cats" / "c.png", (33, 33), (0, 255, 0, 255), mode="RGBA")
    save(root / "dogs" / "a.png", (50, 50), BLUE)
    save(root / "dogs" / "b.PNG", (20, 10), 30, mode="L")
    save(root / "dogs" / "c.png", (64, 48), (10, 20, 30, 255), mode="RGBA")
    save(root / "dogs" / "more" / "d.png", (32, 32), (90, 90, 90))
    (root / "dogs" / "notes.txt").write_text("not an image")
    save(root / "dogs" / "._a.png", (8, 8), RED).write_bytes(b"macOS resource fork, not a PNG")
    return root


def folder(root, **kwargs) -> ImageFolderImages:
    defaults = dict(resolution=16, test_fraction=0.0, batch_size=2)
    dm = ImageFolderImages(str(root), **{**defaults, **kwargs})
    dm.setup("fit")
    return dm


def test_class_subfolders_load_as_labelled_rgb_images_in_model_range(two_classes):
    dm = folder(two_classes)
    real, label = dm.train_set.tensors["real"], dm.train_set.tensors["label"]
    assert real.shape == (7, 3, 16, 16)
    assert real.dtype == torch.float32
    assert real.min() >= -1 and real.max() <= 1
    assert dm.class_names == ["cats", "dogs"] and dm.num_classes == 2
    assert label.dtype == torch.long
    assert label.tolist() == [0, 0, 0, 1, 1, 1, 1]  # sorted by class, then path; the hidden and .txt files skipped
    # uniform images stay uniform: first cat is red, first dog blue, the grey cat 200 on every channel
    assert close(real[0], torch.tensor([1.0, -1.0, -1.0]).view(-1, 1, 1))
    assert close(real[3], torch.tensor([-1.0, -1.0, 1.0]).view(-1, 1, 1))
    assert close(real[1], to_model(200))
    assert dm.test_set is None  # test_fraction=0


def test_grey_conversion_gives_one_channel_of_luminance(two_classes):
    dm = folder(two_classes, channels=1)
    real = dm.train_set.tensors["real"]
    assert real.shape == (7, 1, 16, 16)
    # PIL's L = 0.299 R + 0.587 G + 0.114 B: pure red -> 76, pure blue -> 29; grey images keep their value
    assert close(real[0], to_model(76))
    assert close(real[3], to_model(29))
    assert close(real[1], to_model(200))


def test_transparent_pixels_are_white_and_16_bit_grey_is_scaled(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # red, but fully transparent
    Image.fromarray(np.full((8, 8), 128 * 257, dtype=np.uint16)).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")  # a 16-bit PNG, which PIL's convert clips
    real = folder(tmp_path, resolution=8, batch_size=1).train_set.tensors["real"]
    assert torch.equal(real[0], torch.ones(3, 8, 8))
    assert close(real[1], to_model(128))


def wide_image(path: Path) -> Path:
    """96 x 32: red in the middle half (a little wider than the central square), blue at both ends."""
    image = Image.new("RGB", (96, 32), BLUE)
    image.paste(RED, (24, 0, 72, 32))
    image.save(path)
    return path


def test_center_crop_keeps_the_centre_and_none_squashes_the_whole_image(tmp_path):
    wide_image(tmp_path / "wide.png")
    centre = folder(tmp_path, resolution=16, batch_size=1).train_set.tensors["real"][0]
    assert centre.shape == (3, 16, 16)
    assert close(centre, torch.tensor([1.0, -1.0, -1.0]).view(-1, 1, 1))  # all red, no blue border
    squashed = folder(tmp_path, resolution=15, crop="none", batch_size=1).train_set.tensors["real"][0]
    assert squashed.shape == (3, 15, 15)
    assert close(squashed[:, :, 7], torch.tensor([1.0, -1.0, -1.0]).view(-1, 1))  # red in the middle
    assert close(squashed[:, :, 0], torch.tensor([-1.0, -1.0, 1.0]).view(-1, 1))  # blue at both sides
    assert close(squashed[:, :, -1], torch.tensor([-1.0, -1.0, 1.0]).view(-1, 1))


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    """40 uniform grey images 0, 5, ..., 195 in two subfolders: an image's value identifies it."""
    for i in range(40):
        save(tmp_path / "shades" / ("dark" if i < 20 else "light") / f"{i:02d}.png", (12, 12), 5 * i, mode="L")
    return tmp_path / "shades"


def shades(dataset) -> set[int]:
    return {round((v + 1) * 127.5) for v in dataset.tensors["real"][:, 0, 0, 0].tolist()}


def test_the_seeded_split_is_deterministic_disjoint_and_complete(numbered):
    a = folder(numbered, resolution=8, test_fraction=0.1)
    b = folder(numbered, resolution=8, test_fraction=0.1)
    assert len(a.test_set) == 4 and len(a.train_set) == 36
    assert shades(a.train_set) | shades(a.test_set) == {5 * i for i in range(40)}
    assert not shades(a.train_set) & shades(a.test_set)
    assert torch.equal(a.test_set.tensors["real"], b.test_set.tensors["real"])
    assert torch.equal(a.test_set.tensors["label"], b.test_set.tensors["label"])
    assert a.name == b.name and a.name.startswith("image_folder-")
    # labels travel with their images: dark images are 0..95
    for split in (a.train_set, a.test_set):
        dark = split.tensors["real"][:, 0, 0, 0] < to_model(100)
        assert torch.equal(split.tensors["label"], (~dark).long())
    other = folder(numbered, resolution=8, test_fraction=0.1, split_seed=1)
    assert shades(other.test_set) != shades(a.test_set)
    assert other.name != a.name  # cached test-split features are not shared between splits
    # the metrics draw real images from the held-out split
    assert shades(a.test_set) >= {round((v + 1) * 127.5) for v in a.real_samples(4, split="test")[:, 0, 0, 0].tolist()}


def test_a_flat_folder_is_one_class(tmp_path):
    root = tmp_path / "faces"
    for i, mode in enumerate(["RGB", "L", "RGBA", "RGB"]):
        save(
            root / f"{i}.jpg" if mode != "RGBA" else root / f"{i}.png", (20 + i, 24), 100 if mode == "L" else RED, mode
        )
    dm = folder(root)
    assert dm.class_names == ["faces"] and dm.num_classes == 1
    assert dm.train_set.tensors["real"].shape == (4, 3, 16, 16)
    assert dm.train_set.tensors["label"].tolist() == [0, 0, 0, 0]
    assert folder(root, num_classes=1).num_classes == 1


def test_render_is_an_image_grid_in_unit_range(two_classes):
    dm = folder(two_classes)
    image = dm.render(dm.real_samples(4, split="train"))
    assert image.shape == (3, 2 * 16 + 3 * 2, 2 * 16 + 3 * 2)
    assert image.min() >= 0 and image.max() <= 1
    assert image.std() > 0
    assert dm.render(dm.real_samples(4, split="train"), per_row=4).shape == (3, 16 + 2 * 2, 4 * 16 + 5 * 2)  # one row


# --- errors: one line naming the problem and the fix ------------------------------------------------------------------


def error(root, **kwargs) -> str:
    with pytest.raises(GanlabError) as info:
        folder(root, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_folder_names_the_path_and_the_config_key(tmp_path):
    message = error(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in message and "does not exist" in message
    assert "dataset.root=" in message
    (tmp_path / "file.png").write_bytes(b"")
    assert "is a file, not a folder" in error(tmp_path / "file.png")


def test_a_folder_without_images_lists_the_supported_extensions(tmp_path):
    (tmp_path / "empty").mkdir()
    message = error(tmp_path / "empty")
    assert str(tmp_path / "empty") in message and "holds no images" in message
    for extension in (".png", ".jpg", ".jpeg", ".webp"):
        assert extension in message
    (tmp_path / "gifs" / "sub").mkdir(parents=True)
    (tmp_path / "gifs" / "sub" / "a.gif").write_bytes(b"GIF89a")
    assert "found only .gif files" in error(tmp_path / "gifs")


def test_an_unreadable_image_is_named(two_classes):
    bad = two_classes / "dogs" / "broken.jpg"
    bad.write_bytes(b"this is not a JPEG")
    message = error(two_classes)
    assert f"cannot read image {bad}" in message and "replace or remove the file" in message


def test_a_truncated_image_is_named(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "x.png").write_bytes(data[: len(data) // 2])
    assert f"cannot read image {tmp_path / 'x.png'}" in error(tmp_path)


@pytest.mark.parametrize("resolution", [0, -8])
def test_a_resolution_that_is_not_positive_is_refused(tmp_path, resolution):
    with pytest.raises(GanlabError, match=rf"dataset.resolution={resolution} is not a positive image side"):
        ImageFolderImages(str(tmp_path), resolution=resolution)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(channels=4), "dataset.channels=4 is not an option: use 1 (grey) or 3 (RGB)"),
        (dict(crop="top"), "dataset.crop=top is not an option: use one of center, none"),
        (dict(test_fraction=1.0), "dataset.test_fraction=1.0 is not in [0, 1)"),
    ],
)
def test_other_bad_arguments_are_refused(tmp_path, kwargs, words):
    with pytest.raises(GanlabError) as info:
        ImageFolderImages(str(tmp_path), **kwargs)
    assert words in str(info.value)


def test_num_classes_must_match_the_subfolders(two_classes, tmp_path):
    message = error(two_classes, num_classes=10)
    assert "dataset.num_classes=10 but" in message and "2 class subfolders (cats, dogs)" in message
    assert "set dataset.num_classes=2" in message and "dataset.num_classes=null" in message
    assert folder(two_classes, num_classes=2).num_classes == 2
    save(tmp_path / "flat" / "a.png", (8, 8), RED)
    assert "has no subfolders (1 class): set dataset.num_classes=1" in error(tmp_path / "flat", num_classes=2)


def test_a_class_subfolder_without_images_is_refused(two_classes):
    (two_classes / "birds").mkdir()
    (two_classes / ".git").mkdir()  # hidden folders are not classes
    message = error(two_classes)
    assert "no images for the classes birds" in message and "add images there or remove those subfolders" in message


def test_loose_images_beside_class_subfolders_are_refused(two_classes):
    save(two_classes / "stray.png", (8, 8), RED)
    message = error(two_classes)
    assert "holds images both directly (1) and in subfolders (cats, dogs)" in message


def test_fewer_images_than_one_batch_are_refused(numbered):
    message = error(numbered, test_fraction=0.5, batch_size=32)
    assert "gives 20 training images after holding out 20 for the test split, fewer than one batch of 32" in message
    assert "dataset.datamodule.batch_size" in message


# --- the config -------------------------------------------------------------------------------------------------------


def test_the_config_composes_into_a_datamodule_with_labelled_batches(compose_train, numbered):
    cfg = compose_train("dataset=image_folder", f"dataset.root={numbered}", "model=dcgan")
    assert list(cfg.dataset.data_shape) == [3, 32, 32]
    assert cfg.dataset.num_classes is None
    assert cfg.model.generator.channels == 3 and cfg.model.generator.resolution == 32
    with pytest.raises(GanlabError):  # batch_size 64 > 36 training images
        instantiate(cfg.dataset.datamodule).setup("fit")
    cfg = compose_train(
        "dataset=image_folder",
        f"dataset.root={numbered}",
        "model=dcgan",
        "dataset.channels=1",
        "dataset.resolution=16",
        "dataset.num_classes=2",
        "dataset.datamodule.batch_size=8",
    )
    assert list(cfg.dataset.data_shape) == [1, 16, 16]
    dm = instantiate(cfg.dataset.datamodule)
    assert isinstance(dm, ImageFolderImages) and dm.num_classes == 2
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"real", "label"}
    assert batch["real"].shape == (8, 1, 16, 16) and batch["label"].shape == (8,)
    assert set(batch["label"].tolist()) <= {0, 1}
    assert len(dm.test_set) == 4  # test_fraction 0.1 of 40


def test_the_config_needs_a_root(compose_train):
    cfg = compose_train("dataset=image_folder", "model=dcgan")
    with pytest.raises(MissingMandatoryValue, match=r"dataset\.datamodule\.root"):
        instantiate(cfg.dataset.datamodule)


def test_the_extensions_are_torchvisions():
    assert ".png" in EXTENSIONS and ".jpg" in EXTENSIONS and all(e == e.lower() for e in EXTENSIONS)
