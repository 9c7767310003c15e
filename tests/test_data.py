"""Datasets: toy mixtures with known centres and spreads, the dict batch format, torchvision images."""

import math

import pytest
import torch
import torchvision
from torch.testing import assert_close

from ganlab.data import Grid, Ring, SwissRoll, TensorDictDataset, TorchvisionImages, Toy2DDataModule
from ganlab.data.base import ResumableLoader
from ganlab.errors import GanlabError
from ganlab.plotting import samples_outside, scatter_image


def nearest(points, centers):
    return torch.cdist(points.double(), centers.double()).argmin(dim=1)


# --- mixture geometry ----------------------------------------------------------------------------------------------


def test_ring_centres_are_on_the_unit_circle_at_equal_angles():
    expected = torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])
    ring = Ring()
    assert ring.centers.shape == (8, 2)
    assert ring.std == 0.01
    assert_close(ring.centers, expected)
    assert_close(ring.centers.norm(dim=1), torch.ones(8))


def test_ring_radius_and_mode_count():
    ring = Ring(num_modes=5, radius=2.0, std=0.1)
    expected = torch.tensor([[2 * math.cos(2 * math.pi * k / 5), 2 * math.sin(2 * math.pi * k / 5)] for k in range(5)])
    assert_close(ring.centers, expected)


def test_grid_centres_are_the_5x5_lattice():
    grid = Grid()
    assert grid.centers.shape == (25, 2)
    assert grid.std == 0.05
    got = {(round(x), round(y)) for x, y in grid.centers.tolist()}
    assert got == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    # exact lattice points, not just close to them
    assert_close(grid.centers, grid.centers.round())


def test_grid_spacing_and_side():
    grid = Grid(side=2, spacing=3.0)
    got = {tuple(c) for c in grid.centers.tolist()}
    assert got == {(-1.5, -1.5), (-1.5, 1.5), (1.5, -1.5), (1.5, 1.5)}


# Statistical checks: n = 20,000 samples. The per-axis sample std over 2n residuals has relative standard
# error 1/sqrt(2 * 2n) ~ 0.35%; 3% is ~8 standard errors. Residual means have standard error std/sqrt(n);
# we allow 5 of them. Each of K equal modes has frequency 1/K with standard error sqrt(p(1-p)/n); we allow 5.
N_STAT = 20_000


@pytest.mark.parametrize(
    "mixture", [Ring(), Grid(), Ring(num_modes=4, radius=3.0, std=0.2)], ids=["ring8", "grid25", "ring4-wide"]
)
def test_mixture_samples_have_the_configured_spread(mixture):
    points = mixture.sample(N_STAT, torch.Generator().manual_seed(0))
    assert points.shape == (N_STAT, 2)
    assert points.dtype == torch.float32
    modes = nearest(points, mixture.centers)  # modes are > 10 std apart, so nearest centre = true mode
    residuals = points.double() - mixture.centers[modes].double()
    std = mixture.std
    for axis in range(2):
        assert abs(residuals[:, axis].std().item() - std) < 0.03 * std
        assert abs(residuals[:, axis].mean().item()) < 5 * std / math.sqrt(N_STAT)
    k = len(mixture.centers)
    freq = torch.bincount(modes, minlength=k).double() / N_STAT
    p = 1 / k
    assert (freq - p).abs().max().item() < 5 * math.sqrt(p * (1 - p) / N_STAT)


def test_swiss_roll_without_noise_lies_on_the_spiral():
    roll = SwissRoll(noise=0.0, scale=0.25)
    points = roll.sample(2_000, torch.Generator().manual_seed(0)).double()
    t = points.norm(dim=1) / 0.25  # |(t cos t, t sin t)| = t
    assert t.min() >= 1.5 * math.pi - 1e-4 and t.max() <= 4.5 * math.pi + 1e-4
    assert_close(points, 0.25 * torch.stack([t * t.cos(), t * t.sin()], dim=1), atol=1e-4, rtol=0)
    assert roll.centers is None


def test_swiss_roll_noise_scales_with_scale():
    clean = SwissRoll(noise=0.0, scale=0.5).sample(N_STAT, torch.Generator().manual_seed(1))
    noisy = SwissRoll(noise=0.25, scale=0.5).sample(N_STAT, torch.Generator().manual_seed(1))
    # same t draws (same generator stream), noise ~ scale * 0.25 * N(0, 1) per axis
    residual = (noisy - clean).double()
    assert abs(residual.std().item() - 0.125) < 0.03 * 0.125


def test_extent_holds_the_mixture():
    ring = Ring()
    assert ring.extent == pytest.approx(1.3 + 6 * 0.01)
    grid = Grid()
    points = grid.sample(2_000, torch.Generator().manual_seed(0))
    assert points.abs().max() < grid.extent


# --- the batch format ----------------------------------------------------------------------------------------------


def test_tensor_dict_dataset_indexing():
    real = torch.arange(10.0).view(5, 2)
    label = torch.tensor([7, 8, 9, 10, 11])
    ds = TensorDictDataset({"real": real, "label": label})
    assert len(ds) == 5
    item = ds[3]
    assert_close(item["real"], torch.tensor([6.0, 7.0]))
    assert item["label"].item() == 10
    batch = ds.__getitems__([4, 0, 2])
    assert set(batch) == {"real", "label"}
    assert_close(batch["real"], torch.tensor([[8.0, 9.0], [0.0, 1.0], [4.0, 5.0]]))
    assert_close(batch["label"], torch.tensor([11, 7, 9]))


def test_tensor_dict_dataset_rejects_unequal_lengths():
    with pytest.raises(ValueError, match=r"same length, got \[3, 4\]"):
        TensorDictDataset({"real": torch.zeros(4, 2), "label": torch.zeros(3)})


def small_ring_module(**kwargs):
    defaults = dict(distribution=Ring(), num_train=640, num_test=100, batch_size=64, data_seed=0)
    return Toy2DDataModule(**{**defaults, **kwargs})


def test_toy_module_sizes_and_splits():
    dm = small_ring_module()
    dm.setup("fit")
    assert dm.train_set.tensors["real"].shape == (640, 2)
    assert dm.test_set.tensors["real"].shape == (100, 2)
    assert not torch.equal(dm.train_set.tensors["real"][:100], dm.test_set.tensors["real"])
    for split, stored in (("test", dm.test_set), ("train", dm.train_set)):  # rows of the split asked for
        drawn = dm.real_samples(10, split=split)
        assert (drawn[:, None] == stored.tensors["real"][None]).all(dim=-1).any(dim=1).all()


def test_same_data_seed_gives_identical_data():
    a, b = small_ring_module(data_seed=3), small_ring_module(data_seed=3)
    c = small_ring_module(data_seed=4)
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.train_set.tensors["real"], b.train_set.tensors["real"])
    assert torch.equal(a.test_set.tensors["real"], b.test_set.tensors["real"])
    assert not torch.equal(a.train_set.tensors["real"], c.train_set.tensors["real"])


def test_data_seed_is_independent_of_the_global_seed():
    torch.manual_seed(0)
    a = small_ring_module()
    a.setup()
    torch.manual_seed(1)
    b = small_ring_module()
    b.setup()
    assert torch.equal(a.train_set.tensors["real"], b.train_set.tensors["real"])


def test_train_dataloader_yields_dict_batches_covering_an_epoch():
    dm = small_ring_module()
    loader = dm.train_dataloader()  # sets up on demand
    batches = list(loader)
    assert len(batches) == 640 // 64
    for batch in batches:
        assert isinstance(batch, dict)
        assert set(batch) == {"real", "label"}  # a mixture's samples carry the mode they were drawn from
        assert batch["real"].shape == (64, 2)
        nearest_centre = torch.cdist(batch["real"], dm.distribution.centers).argmin(dim=1)
        assert torch.equal(batch["label"], nearest_centre)
    # shuffled, but one epoch is a permutation of the training set
    seen = torch.cat([b["real"] for b in batches])
    train = dm.train_set.tensors["real"]
    assert not torch.equal(seen, train)
    assert torch.equal(seen[seen[:, 0].argsort()], train[train[:, 0].argsort()])


def test_train_dataloader_drops_the_last_partial_batch():
    dm = small_ring_module(num_train=150, batch_size=64)
    assert [b["real"].shape[0] for b in dm.train_dataloader()] == [64, 64]


def indices_of(loader: ResumableLoader) -> list[list[int]]:
    return [batch["index"].tolist() for batch in loader]


def flat(batches: list[list[int]]) -> list[int]:
    return [index for batch in batches for index in batch]


def numbered(n: int, batch_size: int, seed: int, **kwargs) -> ResumableLoader:
    """A loader over the indices 0..n-1 (batches gathered whole, as the data modules do)."""
    dataset = TensorDictDataset({"index": torch.arange(n)})
    return ResumableLoader(dataset, batch_size, seed, collate_fn=lambda batch: batch, **kwargs)


def test_each_epoch_has_its_own_seeded_order_and_a_loader_resumes_at_its_next_batch():
    loader = numbered(50, batch_size=10, seed=3)
    epoch0, epoch0_again = indices_of(loader), indices_of(loader)
    loader.sampler.set_epoch(1)
    epoch1 = indices_of(loader)
    assert epoch0 == epoch0_again != epoch1
    assert sorted(flat(epoch1)) == list(range(50))

    iterator = iter(loader)
    served = [next(iterator)["index"].tolist() for _ in range(2)]
    resumed = numbered(50, batch_size=10, seed=3)
    resumed.load_state_dict(loader.state_dict())
    resumed.sampler.set_epoch(1)
    assert served + indices_of(resumed) == epoch1
    assert indices_of(resumed) == epoch1  # only the first pass after a resume is shortened

    at_epoch_end = numbered(50, batch_size=10, seed=3)
    at_epoch_end.load_state_dict({"batches_served": 5})  # an epoch-end checkpoint: the next epoch is whole
    assert len(indices_of(at_epoch_end)) == 5


def test_ddp_processes_take_disjoint_shares_of_each_epoch():
    shares = [flat(indices_of(numbered(40, 5, seed=0, num_replicas=2, rank=r))) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 20
    assert sorted(shares[0] + shares[1]) == list(range(40))


@pytest.mark.parametrize("distribution", [Ring(), SwissRoll()], ids=["ring", "swissroll"])
def test_toy_render_is_an_rgb_image_in_unit_range(distribution):
    dm = small_ring_module(distribution=distribution)
    image = dm.render(dm.real_samples(50))
    assert image.dtype == torch.float32
    assert image.shape == (3, 400, 400)  # 4 x 4 inches at 100 dpi
    assert image.min() >= 0 and image.max() <= 1
    assert image.std() > 0  # something is drawn


def test_scatter_plot_says_when_samples_left_the_view():
    far = torch.full((50, 2), 10.0)
    assert samples_outside(far, 1.35) == 50 and samples_outside(far / 10, 1.35) == 0
    # points outside the axes are not drawn, so without the note the two images would be identical
    nothing = torch.zeros(0, 2)
    assert (scatter_image(far, limits=1.35) - scatter_image(nothing, limits=1.35)).abs().sum() > 0


# --- torchvision images ----------------------------------------------------------------------------------------------


def mnist(root, resolution=28, download=False):
    return TorchvisionImages(
        "torchvision.datasets.MNIST", root=str(root), resolution=resolution, download=download, name="mnist"
    )


@pytest.fixture(scope="module")
def mnist_root(shared_dir):
    """The shared 4,000/1,000 MNIST subset (conftest's ``shared_dir``, normally /work/shared)."""
    return shared_dir / "data"


@pytest.fixture(scope="module")
def mnist28(mnist_root):
    dm = mnist(mnist_root)
    dm.setup("fit")
    return dm


def test_mnist_is_in_model_range(mnist28):
    real, label = mnist28.train_set.tensors["real"], mnist28.train_set.tensors["label"]
    assert real.shape == (4000, 1, 28, 28)
    assert real.dtype == torch.float32
    assert label.shape == (4000,)
    assert label.dtype == torch.long
    assert label.min() >= 0 and label.max() <= 9
    assert real.min() == -1.0 and real.max() == 1.0  # MNIST has pixels at 0 and at 255
    assert mnist28.test_set.tensors["real"].shape == (1000, 1, 28, 28)
    assert mnist28.test_set.tensors["label"].shape == (1000,)


def test_mnist_pixels_map_linearly_from_uint8(mnist28, mnist_root):
    raw = torchvision.datasets.MNIST(str(mnist_root), train=True, download=False)
    pixels = raw.data[:20].double()  # 0 -> -1, 255 -> 1
    assert_close(mnist28.train_set.tensors["real"][:20, 0].double(), pixels / 127.5 - 1, atol=1e-6, rtol=0)
    assert torch.equal(mnist28.train_set.tensors["label"], raw.targets)


def test_mnist_resolution_32_resizes(mnist28, mnist_root):
    dm = mnist(mnist_root, resolution=32)
    dm.setup()
    real = dm.train_set.tensors["real"]
    assert real.shape == (4000, 1, 32, 32)
    assert real.min() >= -1 and real.max() <= 1
    assert real.is_contiguous()
    # a smooth upscale keeps each image's mean brightness (measured: within 0.005 on every image)
    mean28 = mnist28.train_set.tensors["real"].mean(dim=(1, 2, 3))
    assert (real.mean(dim=(1, 2, 3)) - mean28).abs().max() < 0.02


def test_real_samples_are_a_fixed_random_subset_that_holds_every_class(mnist28):
    train = mnist28.train_set.tensors
    assert (train["label"][:400] == 0).all()  # the shared subset is stored class by class
    drawn = mnist28.real_samples(200, split="train")
    index = torch.cdist(drawn.flatten(1), train["real"].flatten(1)).argmin(dim=1)
    assert torch.equal(train["real"][index], drawn)
    assert set(train["label"][index].tolist()) == set(range(10))
    assert torch.equal(mnist28.real_samples(200, split="train"), drawn)  # the same subset every time
    assert torch.equal(mnist28.real_samples(50, split="train"), drawn[:50])  # smaller draws are prefixes


def test_mnist_render_is_an_image_grid(mnist28):
    image = mnist28.render(mnist28.real_samples(16))
    assert image.dtype == torch.float32
    assert image.shape == (3, 4 * 28 + 5 * 2, 4 * 28 + 5 * 2)  # 4 x 4 tiles, 2-pixel padding
    assert image.min() >= 0 and image.max() <= 1
    # model range -1 -> 0 and 1 -> 1; the padding is white
    white = mnist28.render(torch.ones(4, 1, 28, 28))
    black = mnist28.render(-torch.ones(4, 1, 28, 28))
    assert torch.all(white == 1)
    assert torch.all(black[:, 2:30, 2:30] == 0)
    assert torch.all(black[:, 0:2, :] == 1)


def test_missing_dataset_without_download_names_folder_and_fix(tmp_path):
    dm = mnist(tmp_path / "nowhere", download=False)
    with pytest.raises(GanlabError) as info:
        dm.setup("fit")
    message = str(info.value)
    assert str((tmp_path / "nowhere").resolve()) in message
    assert "mnist not found" in message
    assert "GANLAB_DATA_DIR" in message
    assert "paths.data_dir" in message
    assert "MNIST/raw" in message
    assert "dataset.download=false" in message
    assert "\n" not in message  # one line
