"""The memorisation metric against known answers: copies of training images, fresh real samples, the figures."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ganlab.data.torchvision_images import TorchvisionImages
from ganlab.data.toy2d import Ring, Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.metrics import FeatureExtractor, Flatten
from ganlab.metrics.memorization import Memorization, distance_statistics, nearest

VALUES = ("nn_median", "test_nn_median", "ratio", "copies", "closer")
# neighbour_sheet's layout for 28 x 28 MNIST: tiles enlarged twice, 2-pixel frames, a 30-pixel header.
STEP, TILE, HEADER = 58, 56, 30


class AveragePool(FeatureExtractor):
    """A cheap stand-in for Inception: 4 x 4 average pooling, 49 features per MNIST digit."""

    name = "avgpool4"

    def forward(self, samples: Tensor) -> Tensor:
        return F.avg_pool2d(samples.float(), 4).flatten(1)


@pytest.fixture(scope="module")
def ring() -> Toy2DDataModule:
    datamodule = Toy2DDataModule(Ring(), num_train=3000, num_test=4000)
    datamodule.setup()
    return datamodule


@pytest.fixture(scope="module")
def mnist(shared_dir) -> TorchvisionImages:
    datamodule = TorchvisionImages(
        "torchvision.datasets.MNIST", root=str(shared_dir / "data"), download=False, name="mnist"
    )
    datamodule.setup()
    return datamodule


def scored(datamodule, fake: Tensor, num_samples: int, batch: int | None = None, **kwargs) -> Memorization:
    """A metric prepared for ``num_samples`` samples and fed ``fake`` in batches of ``batch`` (all at once)."""
    metric = Memorization(sync_on_compute=False, **kwargs)
    metric.prepare(datamodule, num_samples, cache_dir=None)
    for part in fake.split(batch or len(fake)):
        metric.update(part)
    return metric


def values(metric: Memorization) -> dict[str, float]:
    return {name: float(value) for name, value in metric.compute().items()}


def tile(image: Tensor, row: int, column: int) -> Tensor:
    top, left = HEADER + 2 + row * STEP, 2 + column * STEP
    return image[:, top : top + TILE, left : left + TILE]


def test_nearest_returns_the_k_nearest_in_order_and_exact_zeros_for_copies():
    reference = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    distances, indices = nearest(torch.tensor([[2.9], [0.0]]), reference, k=2)
    assert indices.tolist() == [[2, 1], [0, 1]]
    assert torch.allclose(distances, torch.tensor([[0.1, 1.9], [0.0, 1.0]]))
    # cdist's matrix-product form leaves about 1e-2 here; a copy must still be at distance 0.
    images = torch.rand(300, 784, generator=torch.Generator().manual_seed(0)) * 2 - 1
    distances, indices = nearest(images[100:200], images, k=1)
    assert distances.max() == 0.0 and indices[:, 0].tolist() == list(range(100, 200))


def test_distance_statistics_of_copies_of_the_test_set_and_of_far_samples():
    test = torch.rand(1000, generator=torch.Generator().manual_seed(0)) + 1.0
    same = distance_statistics(test, test, copy_quantile=0.01)
    assert float(same["ratio"]) == 1.0 and float(same["closer"]) == 0.5
    assert float(same["copies"]) == pytest.approx(0.01, abs=0.002)
    copies = distance_statistics(torch.zeros(10), test, copy_quantile=0.01)
    assert (float(copies["ratio"]), float(copies["copies"]), float(copies["closer"])) == (0.0, 1.0, 1.0)
    far = distance_statistics(test + 10.0, test, copy_quantile=0.01)
    assert float(far["copies"]) == 0.0 and float(far["closer"]) == 0.0 and float(far["ratio"]) > 5


def test_ring_training_points_are_copies_and_fresh_points_are_not(ring):
    copies = values(scored(ring, ring.train_set.tensors["real"][:500], 2000, feature_extractor=Flatten()))
    # For 2-D data the feature space is the plane itself: one set of values.
    assert set(copies) == {f"memorization_pixel_{name}" for name in VALUES}
    assert copies["memorization_pixel_nn_median"] == 0.0 and copies["memorization_pixel_ratio"] == 0.0
    assert copies["memorization_pixel_copies"] == 1.0 and copies["memorization_pixel_closer"] == 1.0

    # Test points 2000-3999 against the reference of test points 0-1999: the same distribution.
    fresh = values(scored(ring, ring.test_set.tensors["real"][2000:4000], 2000, feature_extractor=Flatten()))
    assert fresh["memorization_pixel_ratio"] == pytest.approx(1.0, abs=0.1)
    assert fresh["memorization_pixel_copies"] == pytest.approx(0.01, abs=0.008)
    assert fresh["memorization_pixel_closer"] == pytest.approx(0.5, abs=0.04)
    assert fresh["memorization_pixel_test_nn_median"] == copies["memorization_pixel_test_nn_median"] > 0


def test_ring_figures_are_the_histogram_only(ring):
    metric = scored(ring, ring.test_set.tensors["real"][:300], 300, feature_extractor=Flatten())
    metric.compute()
    figures = metric.figures(ring)
    assert set(figures) == {"memorization_distances"}
    image = figures["memorization_distances"]
    assert image.shape[0] == 3 and image.min() >= 0.0 and image.max() <= 1.0 and image.std() > 0.05


def test_mnist_training_images_are_their_own_first_neighbours(mnist):
    fake = mnist.train_set.tensors["real"][100:150]
    metric = scored(mnist, fake, 50, feature_extractor=AveragePool(), grid_size=4, neighbours=3)
    found = values(metric)
    for space in ("pixel", "feature"):
        assert found[f"memorization_{space}_nn_median"] == 0.0 and found[f"memorization_{space}_ratio"] == 0.0
        assert found[f"memorization_{space}_copies"] == 1.0 and found[f"memorization_{space}_closer"] == 1.0
        assert found[f"memorization_{space}_test_nn_median"] > 0

    sheet = metric.figures(mnist)["memorization"]
    # columns: sample | blank | 3 nearest in pixels | blank | 3 nearest in avgpool4 features
    assert tuple(sheet.shape) == (3, HEADER + 4 * STEP + 2, 9 * STEP + 2)
    for row in range(4):
        sample = tile(sheet, row, 0)
        assert sample.std() > 0.1 and (tile(sheet, row, 1) == 1.0).all()
        assert torch.equal(tile(sheet, row, 2), sample) and torch.equal(tile(sheet, row, 6), sample)
        assert not torch.equal(tile(sheet, row, 3), sample)


@pytest.mark.parametrize(("grid_size", "neighbours"), [(8, 5), (2, 1)])
def test_neighbour_grid_size_follows_grid_size_and_neighbours(mnist, grid_size, neighbours):
    fake = mnist.test_set.tensors["real"][:20]
    metric = scored(mnist, fake, 20, feature_extractor=AveragePool(), grid_size=grid_size, neighbours=neighbours)
    columns = 1 + 2 * (1 + neighbours)
    sheet = metric.figures(mnist)["memorization"]
    assert tuple(sheet.shape) == (3, HEADER + grid_size * STEP + 2, columns * STEP + 2)
    assert sheet.min() >= 0.0 and sheet.max() <= 1.0


def test_batched_updates_equal_one_update(mnist):
    # 5 copies and 45 test images in batches of 5: the grid of 8 spans two batches.
    fake = torch.cat([mnist.train_set.tensors["real"][:5], mnist.test_set.tensors["real"][500:545]])
    one = scored(mnist, fake, 50, feature_extractor=AveragePool(), grid_size=8)
    many = scored(mnist, fake, 50, batch=5, feature_extractor=AveragePool(), grid_size=8)
    assert values(one) == values(many)
    one_figures, many_figures = one.figures(mnist), many.figures(mnist)
    assert one_figures.keys() == many_figures.keys() == {"memorization", "memorization_distances"}
    assert all(torch.equal(one_figures[stem], many_figures[stem]) for stem in one_figures)


def test_scoring_before_prepare_is_refused():
    metric = Memorization(feature_extractor=Flatten())
    with pytest.raises(GanlabError, match="prepare"):
        metric.update(torch.zeros(4, 2))


@pytest.mark.slow
def test_eval_memorization_on_an_mnist_checkpoint(run_ganlab, tiny_mnist_run, tmp_path):
    out_dir = tmp_path / "scores"
    out = run_ganlab(
        "eval",
        f"ckpt={tiny_mnist_run}",
        "metrics=[memorization]",
        "feature_extractor=pixels",
        "num_samples=100",
        f"out_dir={out_dir}",
    ).stdout
    metrics = json.loads((out_dir / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {f"memorization_pixel_{name}" for name in VALUES}
    assert all(math.isfinite(value) for value in metrics.values())
    assert metrics["memorization_pixel_test_nn_median"] > 0 and 0.0 <= metrics["memorization_pixel_copies"] <= 1.0
    assert "memorization_pixel_ratio" in out
    # 8 rows of sample | blank | 5 nearest training images in pixel space (the only space here)
    with Image.open(out_dir / "memorization.png") as sheet:
        assert (sheet.height, sheet.width) == (HEADER + 8 * STEP + 2, 7 * STEP + 2)
    with Image.open(out_dir / "memorization_distances.png") as histogram:
        assert histogram.width > 300 and histogram.height > 200
