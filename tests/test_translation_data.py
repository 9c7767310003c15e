"""Translation datasets: the MNIST tasks (edges, thickness, super-resolution) and the user's paired/unpaired folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from ganlab.data.mnist_tasks import MNISTEdges, MNISTSuperRes, MNISTThickness, dilate, downscale, edge_map, erode
from ganlab.data.torchvision_images import TorchvisionImages
from ganlab.data.translation_folders import PairedFolder, UnpairedFolder
from ganlab.errors import GanlabError

# --- image operations on hand-made images ------------------------------------------------------------------------


def canvas(size: int = 9) -> torch.Tensor:
    """A ``(1, 1, size, size)`` black image (-1)."""
    return -torch.ones(1, 1, size, size)


def ink(image: torch.Tensor) -> torch.Tensor:
    """Where ``image`` is white, as a bool ``(H, W)`` mask."""
    return image[0, 0] > 0


def test_a_single_bright_pixel_dilates_to_a_square_and_erosion_undoes_it():
    x = canvas()
    x[..., 4, 4] = 1
    square = torch.zeros(9, 9, dtype=torch.bool)
    square[3:6, 3:6] = True
    assert torch.equal(ink(dilate(x)), square)
    assert torch.equal(erode(dilate(x)), x)  # the 3x3 square erodes back to its centre
    big = torch.zeros(9, 9, dtype=torch.bool)
    big[2:7, 2:7] = True
    assert torch.equal(ink(dilate(x, 5)), big)
    assert torch.equal(dilate(dilate(x)), dilate(x, 5))  # two 3x3 steps make one 5x5
    plus = torch.zeros(9, 9, dtype=torch.bool)
    plus[4, 3:6] = plus[3:6, 4] = True
    assert torch.equal(ink(dilate(x, footprint="cross")), plus)
    assert torch.equal(erode(dilate(x, footprint="cross"), footprint="cross"), x)
    # the image border neither adds ink nor erases it
    corner = canvas()
    corner[..., 0, 0] = 1
    assert ink(dilate(corner)).sum() == 4 and torch.equal(erode(dilate(corner)), corner)
    assert (erode(torch.ones(1, 1, 5, 5)) == 1).all()


def test_grey_values_dilate_to_the_neighbourhood_maximum_and_erode_to_its_minimum():
    x = torch.tensor([[-1.0, 0.2, -1.0], [0.5, -0.3, -1.0], [-1.0, -1.0, 0.9]]).view(1, 1, 3, 3)
    assert dilate(x)[0, 0, 1, 1] == 0.9 and erode(x)[0, 0, 1, 1] == -1.0
    assert dilate(x)[0, 0, 0, 0] == 0.5 and erode(-x)[0, 0, 0, 0] == -0.5


def test_the_edge_map_of_a_filled_square_is_a_ring_around_its_border():
    x = canvas(11)
    x[..., 3:8, 3:8] = 1  # a 5x5 square
    edges = edge_map(x)
    assert set(edges.unique().tolist()) == {-1.0, 1.0}
    ring = torch.zeros(11, 11, dtype=torch.bool)
    ring[2:9, 2:9] = True  # one pixel outside the square ...
    ring[4:7, 4:7] = False  # ... to one pixel inside: the square's inside stays dark
    assert torch.equal(ink(edges), ring)
    assert (edge_map(canvas()) == -1).all() and (edge_map(torch.ones(1, 1, 9, 9)) == -1).all()


@pytest.mark.parametrize("factor", [2, 4])
def test_downscale_averages_blocks_and_keeps_the_mean(factor):
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    small = downscale(x, factor)
    assert small.shape == (3, 1, 28 // factor, 28 // factor)
    assert torch.allclose(small.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-6)
    assert torch.allclose(small[0, 0, 0, 0], x[0, 0, :factor, :factor].mean())
    assert small.min() >= -1 and small.max() <= 1


def test_a_scale_that_does_not_divide_the_side_names_dataset_scale():
    with pytest.raises(GanlabError, match=r"dataset\.scale=3 does not divide the 28x28 images.*\b2 \(28x28 -> 14x14\)"):
        downscale(torch.zeros(1, 1, 28, 28), 3)
    with pytest.raises(GanlabError, match=r"dataset\.scale=3"):
        MNISTSuperRes("unused", scale=3)  # before any data is read


# --- the MNIST tasks ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(shared_dir: Path) -> str:
    return str(shared_dir / "data")


@pytest.fixture(scope="module")
def digits(data_dir: str) -> TorchvisionImages:
    module = TorchvisionImages("torchvision.datasets.MNIST", data_dir, download=False)
    module.setup()
    return module


def in_range(x: torch.Tensor) -> bool:
    return x.min() >= -1 and x.max() <= 1


def first_batch(module) -> dict[str, torch.Tensor]:
    return next(iter(module.train_dataloader()))


def test_mnist_edges_pairs_edge_maps_with_their_digits(data_dir, digits):
    module = MNISTEdges(data_dir, download=False, batch_size=16)
    batch = first_batch(module)  # loads the digits itself, without a trainer
    assert batch["source"].shape == batch["real"].shape == (16, 1, 28, 28)
    assert module.paired and module.name == "mnist_edges"
    assert torch.equal(batch["source"], edge_map(batch["real"]))
    examples = module.examples(8)
    assert examples["source"].shape == examples["real"].shape == (8, 1, 28, 28) and examples["label"].shape == (8,)
    assert torch.equal(examples["source"], edge_map(examples["real"]))
    test = module.test_set.tensors
    assert torch.equal(test["real"], digits.test_set.tensors["real"])
    assert torch.equal(test["label"], digits.test_set.tensors["label"])
    assert in_range(test["source"]) and in_range(test["real"])
    assert test["source"].mean() > -0.9  # the edge maps hold ink


@pytest.mark.parametrize("scale", [2, 4])
def test_mnist_superres_inputs_are_the_downscaled_targets(data_dir, scale):
    module = MNISTSuperRes(data_dir, scale=scale, source_resolution=28 // scale, download=False, batch_size=16)
    batch = first_batch(module)
    side = 28 // scale
    assert batch["source"].shape == (16, 1, side, side) and batch["real"].shape == (16, 1, 28, 28)
    assert torch.equal(batch["source"], downscale(batch["real"], scale))
    examples = module.examples(8)
    assert examples["source"].shape == (8, 1, side, side) and examples["real"].shape == (8, 1, 28, 28)
    assert torch.equal(examples["source"], downscale(examples["real"], scale))
    assert in_range(examples["source"]) and in_range(examples["real"])
    # one row per example, the small input enlarged to the target's side
    image = module.render_translation([examples["source"], examples["real"], examples["real"]])
    assert image.shape == (3, 8 * 28 + 9 * 2, 3 * 28 + 4 * 2)
    assert image.min() >= 0 and image.max() <= 1 and image.std() > 0


def test_mnist_superres_refuses_a_source_resolution_that_disagrees_with_the_scale():
    with pytest.raises(GanlabError, match=r"set dataset\.source_resolution=7"):
        MNISTSuperRes("unused", scale=4, source_resolution=14)


def test_mnist_thickness_trains_unpaired_on_different_digits_and_tests_paired(data_dir, digits):
    module = MNISTThickness(data_dir, download=False, batch_size=16)
    batch = first_batch(module)
    assert batch["source"].shape == batch["real"].shape == (16, 1, 28, 28)
    assert not module.paired
    train = digits.train_set.tensors["real"]
    half = len(train) // 2
    # domain A thins the first half of the training digits, domain B thickens the second half
    assert torch.equal(module.train_set.tensors["source"], erode(train[:half], footprint="cross"))
    assert torch.equal(module.train_set.tensors["real"], dilate(train[half:], footprint="cross"))
    thin, thick = module.train_set.tensors["source"], module.train_set.tensors["real"]
    for a, b in zip(batch["source"], batch["real"], strict=True):
        assert (thin == a).flatten(1).all(1).any() and (thick == b).flatten(1).all(1).any()
    assert ((thin + 1).sum() < (train[:half] + 1).sum()) and ((thick + 1).sum() > (train[half:] + 1).sum())
    # the test split pairs the erosion and the dilation of the same digit
    test, x = module.test_set.tensors, digits.test_set.tensors["real"]
    assert torch.equal(test["source"], erode(x, footprint="cross"))
    assert torch.equal(test["real"], dilate(x, footprint="cross"))
    examples = module.examples(8)
    assert (examples["source"] <= examples["real"]).all()  # the thin version lies inside the thick one
    assert examples["label"].shape == (8,) and in_range(examples["source"]) and in_range(examples["real"])
    image = module.render_translation([examples["source"], examples["real"]])
    assert image.shape == (3, 8 * 28 + 9 * 2, 2 * 28 + 3 * 2) and image.min() >= 0 and image.max() <= 1


def test_mnist_thickness_iterations_and_footprint_change_the_images_and_the_name(data_dir, digits):
    module = MNISTThickness(data_dir, iterations=2, footprint="square", download=False)
    module.setup()
    x = digits.test_set.tensors["real"]
    assert torch.equal(module.test_set.tensors["real"], dilate(dilate(x)))
    assert torch.equal(module.test_set.tensors["source"], erode(erode(x)))
    assert module.name == "mnist_thickness-i2-square"  # its cached real features are not the default's
    with pytest.raises(GanlabError, match=r"dataset\.iterations=0"):
        MNISTThickness(data_dir, iterations=0)
    with pytest.raises(GanlabError, match=r"dataset\.footprint=disk is not an option"):
        MNISTThickness(data_dir, footprint="disk")


def test_missing_mnist_gives_the_same_one_line_error_as_dataset_mnist(tmp_path):
    with pytest.raises(GanlabError) as info:
        MNISTEdges(str(tmp_path), download=False).setup()
    message = str(info.value)
    assert "\n" not in message and "mnist_edges not found under" in message and "MNIST/raw" in message


# --- the user's folders ------------------------------------------------------------------------------------------


def shade(i: int) -> int:
    """The grey level of A image ``i``; its B partner is the inverse, ``255 - shade(i)``."""
    return 10 + 20 * i


def save(path: Path, value, size: tuple[int, int] = (8, 8), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def side_by_side(path: Path, i: int, height: int = 8) -> None:
    """A|B: the left half grey ``shade(i)``, the right half its inverse."""
    image = Image.new("L", (2 * height, height), shade(i))
    image.paste(255 - shade(i), (height, 0, 2 * height, height))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def grey(x: torch.Tensor) -> list[int]:
    """The uint8 grey level of each uniform image of ``x``."""
    return [round((v + 1) * 127.5) for v in x[:, 0, 0, 0].tolist()]


def paired(root: Path, **kwargs) -> PairedFolder:
    module = PairedFolder(str(root), **{"resolution": 8, "channels": 1, "batch_size": 2, **kwargs})
    module.setup()
    return module


def assert_inverse_pairs(split) -> None:
    """Every target is the inverse of its input: the pairing followed the names (or the halves)."""
    source, real = split.tensors["source"], split.tensors["real"]
    assert [255 - v for v in grey(source)] == grey(real)
    assert torch.allclose(real, -source, atol=1e-6)


def test_side_by_side_images_split_into_aligned_halves(tmp_path):
    for i in range(6):
        side_by_side(tmp_path / "train" / f"{i}.png", i)
    for i in (6, 7):
        side_by_side(tmp_path / "val" / f"{i}.png", i, height=12)  # resized to the resolution
    module = paired(tmp_path)
    assert module.layout == "side_by_side" and module.test_from == "val" and module.paired
    assert module.train_set.tensors["source"].shape == (6, 1, 8, 8)
    assert grey(module.train_set.tensors["source"]) == [shade(i) for i in range(6)]
    assert grey(module.test_set.tensors["source"]) == [shade(6), shade(7)]
    assert_inverse_pairs(module.train_set)
    assert_inverse_pairs(module.test_set)
    batch = first_batch(module)
    assert batch["source"].shape == batch["real"].shape == (2, 1, 8, 8)
    swapped = paired(tmp_path, direction="BtoA")
    assert torch.equal(swapped.train_set.tensors["source"], module.train_set.tensors["real"])
    assert torch.equal(swapped.train_set.tensors["real"], module.train_set.tensors["source"])
    assert swapped.name != module.name and module.name.startswith("paired_folder-")
    assert paired(tmp_path).name == module.name


def test_without_a_test_folder_a_seeded_fraction_of_the_pairs_is_held_out(tmp_path):
    for i in range(10):
        side_by_side(tmp_path / "train" / f"{i}.png", i)
    module = paired(tmp_path, test_fraction=0.2)
    assert len(module.train_set) == 8 and len(module.test_set) == 2
    held = grey(module.test_set.tensors["source"])
    assert sorted(held + grey(module.train_set.tensors["source"])) == [shade(i) for i in range(10)]
    assert_inverse_pairs(module.test_set)
    assert grey(paired(tmp_path, test_fraction=0.2).test_set.tensors["source"]) == held
    assert paired(tmp_path, test_fraction=0.0).test_set is None


def test_a_and_b_folders_pair_files_by_name(tmp_path):
    names = ["zebra", "apple", "mango", "kiwi"]
    for i, name in enumerate(names):
        save(tmp_path / "A" / f"{name}.png", shade(i))
        save(tmp_path / "B" / f"{name}.bmp", 255 - shade(i))  # another extension, the same name
    (tmp_path / "B" / "notes.txt").write_text("not an image")
    module = paired(tmp_path)
    assert module.layout == "folders" and module.test_from is None and module.test_set is None
    assert module.train_set.tensors["real"].shape == (4, 1, 8, 8)
    assert_inverse_pairs(module.train_set)
    # in name order: apple, kiwi, mango, zebra
    assert grey(module.train_set.tensors["source"]) == [shade(1), shade(3), shade(2), shade(0)]
    swapped = paired(tmp_path, direction="BtoA")
    assert grey(swapped.train_set.tensors["source"]) == [255 - shade(i) for i in (1, 3, 2, 0)]


def test_a_and_b_folders_with_train_and_test_subfolders_and_colour_targets(tmp_path):
    for i in range(5):
        split = "train" if i < 3 else "test"
        save(tmp_path / "A" / split / f"{i}.png", shade(i))
        save(tmp_path / "B" / split / f"{i}.png", (255 - shade(i), 0, 0), mode="RGB")
    module = paired(tmp_path, channels=3, source_channels=1)
    assert module.test_from == "test"
    assert module.train_set.tensors["source"].shape == (3, 1, 8, 8)
    assert module.train_set.tensors["real"].shape == (3, 3, 8, 8)
    assert module.test_set.tensors["real"].shape == (2, 3, 8, 8)
    assert grey(module.test_set.tensors["real"]) == [255 - shade(3), 255 - shade(4)]  # the red channel
    assert (module.test_set.tensors["real"][:, 1:] == -1).all()


def test_unpaired_folders_serve_both_domains_with_different_counts(tmp_path):
    for i in range(5):
        save(tmp_path / "trainA" / f"a{i}.png", shade(i))
    for i in range(3):
        save(tmp_path / "trainB" / f"b{i}.jpg", (200, 40 * i, 0), size=(12, 8), mode="RGB")
    for i in range(2):
        save(tmp_path / "testA" / f"{i}.png", shade(5 + i))
    for i in range(3):
        save(tmp_path / "testB" / f"{i}.png", 255 - shade(i))
    module = UnpairedFolder(str(tmp_path), resolution=8, channels=3, source_channels=1, batch_size=2)
    module.setup()
    assert not module.paired and module.name.startswith("unpaired_folder-")
    assert len(module.train_set) == 5  # the larger domain
    assert module.train_set.tensors["source"].shape == (5, 1, 8, 8)
    assert module.train_set.tensors["real"].shape == (3, 3, 8, 8)
    batch = first_batch(module)
    assert batch["source"].shape == (2, 1, 8, 8) and batch["real"].shape == (2, 3, 8, 8)
    for image in batch["source"]:
        assert grey(image[None])[0] in [shade(i) for i in range(5)]
    # the test split pairs by index just so batches exist, and keeps every image of testB for the metrics
    test = module.test_set
    assert len(test) == 3 and test.tensors["real"].shape == (3, 3, 8, 8)
    items = test.__getitems__([0, 1, 2])
    assert grey(items["source"]) == [shade(5), shade(6), shade(5)]
    assert grey(items["real"]) == [255 - shade(i) for i in range(3)]
    examples = module.examples(3)
    assert examples["source"].shape == (3, 1, 8, 8) and examples["real"].shape == (3, 3, 8, 8)
    swapped = UnpairedFolder(str(tmp_path), resolution=8, channels=1, direction="BtoA", batch_size=2)
    swapped.setup()
    assert len(swapped.train_set.tensors["source"]) == 3 and len(swapped.train_set.tensors["real"]) == 5
    assert swapped.name != module.name


# --- errors: one line naming the problem and the fix -------------------------------------------------------------


def error(module_class, root: Path, **kwargs) -> str:
    with pytest.raises(GanlabError) as info:
        module_class(str(root), **{"resolution": 8, "channels": 1, "batch_size": 1, **kwargs}).setup()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_paired_folder_errors(tmp_path):
    message = error(PairedFolder, tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in message and "does not exist" in message and "dataset.root=" in message
    (tmp_path / "empty").mkdir()
    assert "holds neither train/ nor A/ and B/" in error(PairedFolder, tmp_path / "empty")
    (tmp_path / "empty" / "train").mkdir()
    message = error(PairedFolder, tmp_path / "empty")
    assert f"{tmp_path / 'empty' / 'train'} holds no images" in message and ".png" in message
    save(tmp_path / "square" / "train" / "0.png", 0, size=(8, 8))
    message = error(PairedFolder, tmp_path / "square")
    assert "0.png is 8x8, not twice as wide as high" in message and "root/A/ and root/B/" in message
    save(tmp_path / "broken" / "train" / "0.png", 0, size=(16, 8))
    (tmp_path / "broken" / "train" / "1.png").write_bytes(b"not a PNG")
    assert f"cannot read image {tmp_path / 'broken' / 'train' / '1.png'}" in error(PairedFolder, tmp_path / "broken")
    for name in ("x", "y", "z"):
        save(tmp_path / "lonely" / "A" / f"{name}.png", 0)
    save(tmp_path / "lonely" / "B" / "x.png", 0)
    message = error(PairedFolder, tmp_path / "lonely")
    assert f"2 images in {tmp_path / 'lonely' / 'A'} without a partner of the same name" in message
    assert "(e.g. y.png)" in message and "matched by file name" in message
    save(tmp_path / "half" / "A" / "x.png", 0)
    assert "has A/ but no B/" in error(PairedFolder, tmp_path / "half")
    for bad, key in ((dict(direction="sideways"), "dataset.direction"), (dict(source_channels=2), "source_channels")):
        with pytest.raises(GanlabError, match=key):
            PairedFolder(str(tmp_path), **bad)


def test_unpaired_folder_errors(tmp_path):
    assert "does not exist" in error(UnpairedFolder, tmp_path / "nowhere")
    save(tmp_path / "trainA" / "0.png", 0)
    message = error(UnpairedFolder, tmp_path)
    assert "has no trainB/" in message and "root/trainA/, root/trainB/" in message
    (tmp_path / "trainB").mkdir()
    assert f"{tmp_path / 'trainB'} holds no images" in error(UnpairedFolder, tmp_path)
    save(tmp_path / "trainB" / "0.png", 0)
    save(tmp_path / "testA" / "0.png", 0)
    assert "has testA/ but no testB/" in error(UnpairedFolder, tmp_path)
    save(tmp_path / "testB" / "0.png", 0)
    assert "fewer than one batch of 4" in error(UnpairedFolder, tmp_path, batch_size=4)


# --- configs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "module_class", "source_shape", "data_shape"),
    [
        (["dataset=mnist_edges"], MNISTEdges, [1, 28, 28], [1, 28, 28]),
        (["dataset=mnist_thickness"], MNISTThickness, [1, 28, 28], [1, 28, 28]),
        (["dataset=mnist_superres"], MNISTSuperRes, [1, 14, 14], [1, 28, 28]),
        (["dataset=mnist_superres", "dataset.scale=4", "dataset.source_resolution=7"], MNISTSuperRes, [1, 7, 7], None),
    ],
)
def test_mnist_task_configs_build_their_modules(compose_train, overrides, module_class, source_shape, data_shape):
    cfg = compose_train(*overrides)
    assert OmegaConf.to_object(cfg.dataset.source_shape) == source_shape
    assert OmegaConf.to_object(cfg.dataset.data_shape) == (data_shape or [1, 28, 28])
    assert cfg.dataset.num_classes is None and cfg.dataset.sample_grid_size == 8 and "fid" in cfg.dataset.metrics
    module = instantiate(cfg.dataset.datamodule)
    assert isinstance(module, module_class) and module.name == cfg.dataset.name
    examples = module.examples(2)
    assert list(examples["source"].shape[1:]) == source_shape
    assert list(examples["real"].shape[1:]) == OmegaConf.to_object(cfg.dataset.data_shape)


def test_folder_configs_build_their_modules(compose_train, tmp_path):
    for i in range(4):
        side_by_side(tmp_path / "pairs" / "train" / f"{i}.png", i)
        save(tmp_path / "domains" / "trainA" / f"{i}.png", shade(i))
        save(tmp_path / "domains" / "trainB" / f"{i}.png", shade(i))
    cfg = compose_train("dataset=paired_folder", f"dataset.root={tmp_path / 'pairs'}", "dataset.source_channels=1")
    assert OmegaConf.to_object(cfg.dataset.source_shape) == [1, 64, 64]
    assert OmegaConf.to_object(cfg.dataset.data_shape) == [3, 64, 64]
    module = instantiate(cfg.dataset.datamodule, batch_size=2)
    assert isinstance(module, PairedFolder)
    module.setup()
    assert module.train_set.tensors["source"].shape[1:] == (1, 64, 64)
    assert module.train_set.tensors["real"].shape[1:] == (3, 64, 64)
    cfg = compose_train("dataset=unpaired_folder", f"dataset.root={tmp_path / 'domains'}", "dataset.resolution=16")
    assert OmegaConf.to_object(cfg.dataset.source_shape) == OmegaConf.to_object(cfg.dataset.data_shape) == [3, 16, 16]
    module = instantiate(cfg.dataset.datamodule, batch_size=2)
    assert isinstance(module, UnpairedFolder)
    assert first_batch(module)["source"].shape == (2, 3, 16, 16)
