"""The measurements of lesson ``architectures``: diversity, spectral bands, LAPGAN's chain, StyleGAN's mixes."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.lessons.architectures import (
    band_share,
    coarse_and_fine,
    lapgan_chain,
    mixing_distances,
    spectral_centroid,
    style_mixes,
)
from ganlab.models.lapgan import LAPGANGenerator, downsample, reconstruct, upsample
from ganlab.models.stylegan import StyleGANGenerator


def cosine(frequency: float, side: int = 28) -> torch.Tensor:
    """``(1, 1, side, side)``: cos(2 pi f x) along x, f in cycles per pixel."""
    x = torch.arange(side, dtype=torch.float64)
    return torch.cos(2 * math.pi * frequency * x).expand(side, side)[None, None]


def test_band_share_splits_the_spectrum_at_the_coarser_grids_nyquist_frequency():
    assert band_share(cosine(7 / 28)) == pytest.approx(0.0, abs=1e-12)  # exactly at the coarser grid's limit
    assert band_share(cosine(8 / 28)) == pytest.approx(1.0)
    checkerboard = (-1.0) ** (torch.arange(28)[:, None] + torch.arange(28)[None])
    assert band_share(checkerboard[None, None].double()) == pytest.approx(1.0)
    # white noise blurred, decimated and upsampled keeps 5% above the limit (bilinear upsampling leaks a little);
    # its Laplacian residual has most of its energy there
    image = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert band_share(upsample(downsample(image))) < 0.1 < 0.5 < band_share(image - upsample(downsample(image)))


def test_spectral_centroid_of_a_cosine_is_its_frequency():
    for frequency in (3 / 28, 10 / 28):
        assert spectral_centroid(cosine(frequency)) == pytest.approx(frequency)


def test_the_lapgan_chain_is_what_the_generator_samples():
    torch.manual_seed(0)
    generator = LAPGANGenerator(latent_dim=8, resolution=28, levels=3, width=8, coarse_hidden=16).eval()
    z = generator.sample_latent(3)
    images, residuals = lapgan_chain(generator, z)
    assert [image.shape[-1] for image in images] == [28, 14, 7] and [r.shape[-1] for r in residuals] == [28, 14]
    with torch.no_grad():
        assert torch.allclose(images[0].clamp(-1, 1), generator(z), atol=1e-6)
    assert torch.allclose(reconstruct([*residuals, images[-1]]), images[0], atol=1e-5)


def test_style_mixes_take_each_layers_w_from_its_source():
    torch.manual_seed(0)
    generator = StyleGANGenerator(latent_dim=8, resolution=28, width=8, w_dim=8, mapping_layers=2).eval()
    z_a, z_b = generator.sample_latent(2), generator.sample_latent(3)
    # the noise strengths start at 0, so an untrained generator is deterministic
    a, b, all_b = style_mixes(generator, z_a, z_b, crossover=0)
    assert all_b.shape == (2, 3, 1, 28, 28) and torch.allclose(all_b, b.expand(2, -1, -1, -1, -1), atol=1e-5)
    _, _, all_a = style_mixes(generator, z_a, z_b, crossover=generator.num_layers)
    assert torch.allclose(all_a, a[:, None].expand(-1, 3, -1, -1, -1), atol=1e-5)
    found = mixing_distances(a, b, all_a)
    assert found["coarse_to_a"] == pytest.approx(0.0, abs=1e-5) and found["coarse_nearer_a"] == 1.0


def test_the_fine_feature_is_sharpness_and_the_coarse_one_the_pyramid_top():
    image = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    blurred = upsample(downsample(image))
    coarse, fine = coarse_and_fine(torch.cat([image, blurred]))
    assert coarse.shape == (4, 49) and fine.shape == (4, 1)
    assert (fine[:2] > fine[2:]).all()
    _, brighter = coarse_and_fine(torch.cat([image, blurred]) * 0.5)  # a scale-free share: contrast does not move it
    assert torch.allclose(brighter, fine, atol=1e-6)
