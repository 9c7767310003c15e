"""Sample-set metrics against known answers: 1-NN accuracy, precision/recall, density/coverage, KID."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torchmetrics.image.fid import FrechetInceptionDistance as TorchmetricsFID

from ganlab.data.toy2d import Ring, Toy2DDataModule
from ganlab.errors import GanlabError
from ganlab.metrics import (
    DensityCoverage,
    Flatten,
    FrechetInceptionDistance,
    InceptionFeatures,
    InceptionScore,
    KernelInceptionDistance,
    OneNearestNeighbourAccuracy,
    PrecisionRecall,
)
from ganlab.metrics.features import to_inception_input
from ganlab.metrics.memorization import Memorization
from ganlab.metrics.nearest_neighbours import knn_radii
from ganlab.metrics.suite import MetricSuite


def gaussian(n: int, shift: float = 0.0, seed: int = 0, dim: int = 2) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def uniform_square(n: int, x_shift: float, seed: int) -> torch.Tensor:
    points = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return points + torch.tensor([x_shift, 0.0], dtype=torch.float64)


def compare(metric_class, real, fake, **kwargs) -> dict[str, float]:
    """A feature metric's values for real features ``real`` and generated features ``fake``."""
    metric = metric_class(feature_extractor=Flatten(), **kwargs)
    metric.set_real_features(real)
    metric.update(features=fake)
    return {name: float(value) for name, value in metric.compute().items()}


def test_knn_radius_is_the_distance_to_the_kth_other_point():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(points, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


# --- 1-NN two-sample accuracy ----------------------------------------------------------------------------------------


def test_nn1_is_one_half_for_two_samples_of_one_distribution():
    result = compare(OneNearestNeighbourAccuracy, gaussian(2000, seed=1), gaussian(2000, seed=2))
    assert result["nn1_accuracy"] == pytest.approx(0.5, abs=0.03)


def test_nn1_is_one_for_disjoint_samples_and_zero_for_copies():
    real = gaussian(500, seed=1)
    assert compare(OneNearestNeighbourAccuracy, real, gaussian(500, shift=50.0, seed=2))["nn1_accuracy"] == 1.0
    copies = compare(OneNearestNeighbourAccuracy, real, real.clone())
    assert copies == {"nn1_accuracy": 0.0, "nn1_real": 0.0, "nn1_fake": 0.0}


def test_nn1_on_a_collapsed_generator_is_near_one():
    real = gaussian(1000, seed=1)
    collapsed = 0.01 * gaussian(1000, seed=2)  # every sample at the mean
    result = compare(OneNearestNeighbourAccuracy, real, collapsed)
    assert result["nn1_fake"] > 0.99 and result["nn1_accuracy"] > 0.9


# --- precision / recall, density / coverage -------------------------------------------------------------------------


def test_precision_and_recall_of_half_overlapping_squares_are_one_half():
    # real: [0, 1]^2; fake: [0.5, 1.5] x [0, 1]. Half of each set lies in the other's support.
    real, fake = uniform_square(4000, 0.0, seed=1), uniform_square(4000, 0.5, seed=2)
    result = compare(PrecisionRecall, real, fake)
    assert result["precision"] == pytest.approx(0.5, abs=0.03)
    assert result["recall"] == pytest.approx(0.5, abs=0.03)


def test_a_generator_that_covers_a_corner_has_full_precision_and_small_recall():
    real, fake = uniform_square(4000, 0.0, seed=1), 0.2 * uniform_square(4000, 0.0, seed=2)
    result = compare(PrecisionRecall, real, fake)
    assert result["precision"] > 0.95  # k-NN balls leave small gaps in the support, so not exactly 1
    assert result["recall"] == pytest.approx(0.04, abs=0.03)  # the corner is 4% of the square


def test_density_and_coverage_of_one_distribution_match_naeem_et_al():
    # Naeem et al. 2020, section 4: E[density] = 1 and, for M = N large, E[coverage] = 1 - 2^-k.
    result = compare(DensityCoverage, gaussian(4000, seed=1), gaussian(4000, seed=2), k=5)
    assert result["density"] == pytest.approx(1.0, abs=0.05)
    assert result["coverage"] == pytest.approx(1 - 2**-5, abs=0.015)


def test_density_and_coverage_of_half_overlapping_squares():
    result = compare(DensityCoverage, uniform_square(4000, 0.0, seed=1), uniform_square(4000, 0.5, seed=2), k=5)
    assert result["density"] == pytest.approx(0.5, abs=0.05)
    assert result["coverage"] == pytest.approx(0.5 * (1 - 2**-5), abs=0.03)


# --- KID ------------------------------------------------------------------------------------------------------------


def cubic_kernel_mean(a: float, b: float) -> float:
    """E (x y + 1)^3 for independent x ~ N(a, 1), y ~ N(b, 1): moments E x^2 = 1 + a^2, E x^3 = a^3 + 3a."""
    return (a**3 + 3 * a) * (b**3 + 3 * b) + 3 * (1 + a**2) * (1 + b**2) + 3 * a * b + 1


def test_kid_of_two_gaussians_matches_the_closed_form():
    a, b = 0.0, 0.5
    truth = cubic_kernel_mean(a, a) + cubic_kernel_mean(b, b) - 2 * cubic_kernel_mean(a, b)  # = 3.578125
    real, fake = gaussian(4000, a, seed=1, dim=1), gaussian(4000, b, seed=2, dim=1)
    result = compare(KernelInceptionDistance, real, fake, num_subsets=100, subset_size=1000)
    assert result["kid_mean"] == pytest.approx(truth, rel=0.05)


def test_kid_of_one_distribution_is_zero_within_its_spread():
    result = compare(KernelInceptionDistance, gaussian(2000, seed=1), gaussian(2000, seed=2), num_subsets=50)
    # the subsets overlap, so their estimates are correlated: compare with one subset's spread
    assert abs(result["kid_mean"]) < result["kid_std"] < 0.01 * 3.578


# --- FID ------------------------------------------------------------------------------------------------------------


def with_moments(n: int, mean: list[float], std: list[float], seed: int) -> torch.Tensor:
    """``n`` points whose sample mean and unbiased sample covariance are exactly ``mean`` and ``diag(std^2)``."""
    x = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    x = x @ torch.linalg.inv(torch.linalg.cholesky(x.T @ x / (n - 1))).T  # whitened: covariance exactly I
    return torch.tensor(mean, dtype=torch.float64) + x * torch.tensor(std, dtype=torch.float64)


def test_fid_of_two_gaussians_in_feature_space_matches_the_closed_form():
    # Diagonal covariances commute: FID = |mu_r - mu_g|^2 + sum_i (sigma_r,i - sigma_g,i)^2.
    real = with_moments(500, [0.0, 1.0, -2.0], [1.0, 2.0, 0.5], seed=1)
    fake = with_moments(700, [1.0, 1.0, 0.0], [3.0, 2.0, 1.5], seed=2)
    truth = (1 + 0 + 4) + (4 + 0 + 1)
    assert compare(FrechetInceptionDistance, real, fake)["fid"] == pytest.approx(truth, rel=1e-9)
    assert compare(FrechetInceptionDistance, real, real)["fid"] == pytest.approx(0.0, abs=1e-9)
    # A rotation of both sets leaves the distance alone; the rotated covariances no longer commute with axes.
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64))[0]
    rotated = compare(FrechetInceptionDistance, real @ rotation, fake @ rotation)["fid"]
    assert rotated == pytest.approx(truth, rel=1e-9)


class CountingFeatures(Flatten):
    """Pixel features that count the samples they are asked for."""

    def __init__(self, name: str = "pixels") -> None:
        super().__init__()
        self.name, self.samples_seen = name, 0

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        self.samples_seen += len(samples)
        return super().forward(samples)


def suite_of(classes: dict) -> dict:
    return {name: cls(feature_extractor=CountingFeatures("counted")) for name, cls in classes.items()}


def test_metrics_in_one_feature_space_share_one_extraction_and_keep_their_values(tmp_path):
    datamodule = Toy2DDataModule(Ring(), name="ring8", num_train=2000, num_test=1000, batch_size=100, data_seed=0)
    fake = gaussian(600, seed=5)
    classes = {"fid": FrechetInceptionDistance, "kid": KernelInceptionDistance, "nn1": OneNearestNeighbourAccuracy}
    suite = MetricSuite(suite_of(classes | {"memorization": Memorization}))
    suite.prepare(datamodule, 600, tmp_path)
    (extractor,) = {m.feature_extractor for m in suite.feature_metrics}
    extractor.samples_seen = 0
    for batch in fake.split(200):
        suite.update(batch)
    assert extractor.samples_seen == 600  # once per sample, not once per metric
    together = suite.compute()
    assert together["memorization_feature_ratio"] == together["memorization_pixel_ratio"]  # the same features
    for cls in classes.values():
        alone = compare(cls, Flatten()(datamodule.real_samples(600)), Flatten()(fake))
        assert {k: together[k] for k in alone} == pytest.approx(alone)
    two_spaces = MetricSuite({"a": KernelInceptionDistance(feature_extractor=CountingFeatures()), **suite_of(classes)})
    assert len({m.feature_extractor for m in two_spaces.feature_metrics}) == 2


# --- the metric protocol with a real data module --------------------------------------------------------------------


def test_feature_metric_caches_the_real_features_and_scores_real_data_as_real(tmp_path):
    datamodule = Toy2DDataModule(Ring(), name="ring8", num_train=2000, num_test=1000, batch_size=100, data_seed=0)
    metric = OneNearestNeighbourAccuracy(feature_extractor=Flatten(), sync_on_compute=False)
    metric.prepare(datamodule, 1000, tmp_path)
    (cache_file,) = tmp_path.glob("features2_ring8-test-2-n1000-order0-pixels.pt")
    for start in range(0, 1000, 250):  # held-out real samples stand in for a perfect generator
        metric.update(datamodule.real_samples(2000, split="train")[start : start + 250])
    assert metric.compute()["nn1_accuracy"] == pytest.approx(0.5, abs=0.05)
    marked = torch.full((1000, 2), 7.0, dtype=torch.float64)
    torch.save(marked, cache_file)  # a second prepare reads the cache instead of recomputing
    again = OneNearestNeighbourAccuracy(feature_extractor=Flatten())
    again.prepare(datamodule, 1000, tmp_path)
    assert torch.equal(again.real_features, marked)
    cache_file.write_bytes(b"not a tensor")  # a damaged entry is recomputed
    again.prepare(datamodule, 1000, tmp_path)
    assert torch.equal(again.real_features, datamodule.real_samples(1000).double())
    assert torch.equal(torch.load(cache_file, weights_only=True), again.real_features)


def test_inception_features_are_torch_fidelitys_the_original_fid_features(shared_dir, monkeypatch):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    monkeypatch.setenv("TORCH_HOME", str(shared_dir / "torch"))
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ours = InceptionFeatures()(images)
    original = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).eval()
    with torch.no_grad():
        (theirs,) = original((to_inception_input(images) * 255).byte())
    assert ours.shape == (4, 2048)
    assert torch.equal(ours, theirs.double())
    antialiased = TorchmetricsFID().inception((to_inception_input(images) * 255).byte())  # torchmetrics' default
    assert not torch.allclose(ours, antialiased.double(), rtol=1e-2)


# --- Inception Score -------------------------------------------------------------------------------------------------

CLASSES = 10


class ConfidentClassifier(torch.nn.Module):
    """Stands in for Inception: reads the class from an image's grey level, answers with near-one-hot logits."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        classes = (images[:, 0, 0, 0].long() * CLASSES) // 256
        return 50.0 * torch.nn.functional.one_hot(classes, CLASSES).double()


def images_of_classes(classes: list[int]) -> torch.Tensor:
    grey = (torch.tensor(classes, dtype=torch.float32) + 0.5) / CLASSES * 2 - 1  # model range [-1, 1]
    return grey.view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


@pytest.mark.filterwarnings("ignore:std\\(\\)")  # one split: torchmetrics' std over splits is undefined
@pytest.mark.parametrize(("classes", "expected"), [(list(range(CLASSES)) * 50, CLASSES), ([3] * 500, 1.0)])
def test_inception_score_is_the_number_of_equally_used_confident_classes(classes, expected):
    metric = InceptionScore(splits=1, feature=ConfidentClassifier())
    metric.update(images_of_classes(classes))
    assert float(metric.compute()["is_mean"]) == pytest.approx(expected, rel=1e-6)


def test_inception_score_refuses_nan_logits_before_generating_anything(shared_dir, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(shared_dir / "torch"))  # these weights' logits layer is NaN
    with pytest.raises(GanlabError, match="NaN logits"):
        InceptionScore().prepare(datamodule=None, num_samples=10, cache_dir=None)


def test_cached_fid_equals_torchmetrics_fid_and_a_set_against_itself_is_zero(compose_train, shared_dir, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(shared_dir / "torch"))
    cache = compose_train().paths.output_dir
    datamodule = instantiate(compose_train("dataset=mnist").dataset.datamodule)
    real = datamodule.real_samples(24)
    fake = datamodule.real_samples(48, split="train")[24:]
    reference = TorchmetricsFID(normalize=True, antialias=False)
    reference.update(to_inception_input(real), real=True)
    reference.update(to_inception_input(fake), real=False)
    values = []
    for _ in range(2):  # computes the real statistics, then reads them from the cache
        ours = FrechetInceptionDistance()
        ours.prepare(datamodule, 24, Path(cache))
        ours.update(fake)
        values.append(float(ours.compute()["fid"]))
    assert values[0] == pytest.approx(float(reference.compute()), rel=1e-3)
    assert values[1] == values[0]
    itself = FrechetInceptionDistance()
    itself.prepare(datamodule, 24, None)
    itself.update(real)
    assert abs(float(itself.compute()["fid"])) < 1e-2
