"""The 2-D toy of notebook 04: its data sits on its modes, and the mode count sees a drop."""

import torch

from genaug.toy2d import mode_coverage, nearest_mode, ring_centres, ring_of_gaussians


def test_the_centres_lie_evenly_on_the_circle():
    centres = ring_centres(8, radius=2.0)
    assert centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    gaps = (centres - centres.roll(1, dims=0)).norm(dim=1)
    assert torch.allclose(gaps, gaps[0].expand(8), atol=1e-6)


def test_real_data_covers_every_mode_and_lies_near_them():
    points = ring_of_gaussians(4000, torch.Generator().manual_seed(0))
    found = mode_coverage(points, ring_centres())
    assert found["modes covered"] == 8 and found["near a mode"] > 0.98


def test_a_generator_that_drops_modes_is_counted_so():
    data = ring_of_gaussians(4000, torch.Generator().manual_seed(0))
    centres = ring_centres()
    kept = data[nearest_mode(data, centres) < 3]  # only three of the eight modes
    assert mode_coverage(kept, centres)["modes covered"] == 3
    stray = torch.zeros(500, 2)  # the ring's centre: near no mode at all
    assert mode_coverage(stray, centres) == {"modes covered": 0, "near a mode": 0.0}
