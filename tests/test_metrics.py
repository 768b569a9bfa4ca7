import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_core import data, judge, metrics


def frechet_distance(feats_a, feats_b) -> float:
    # the Fréchet distance between Gaussians fit to two feature sets (N_a, F) and (N_b, F)
    return metrics.frechet_from_stats(*metrics.mean_cov(feats_a), *metrics.mean_cov(feats_b))


def features_with_exact_stats(mu: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n points (n, F) whose sample mean is exactly mu and unbiased sample covariance exactly cov."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(mu)))
    # orthonormal columns, each orthogonal to the ones vector: mean 0 and z.T z = I exactly
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), z]))
    z = q[:, 1:] * math.sqrt(n - 1)                     # (n, F): unbiased covariance I
    return mu + z @ np.linalg.cholesky(cov).T


def test_features_with_exact_stats_are_what_they_claim():
    mu, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 1.0]])
    x = features_with_exact_stats(mu, cov, 50, seed=0)
    np.testing.assert_allclose(x.mean(axis=0), mu, atol=1e-12)
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov, atol=1e-12)


def test_frechet_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    a = features_with_exact_stats(mu1, np.diag(s1), 300, seed=2)
    b = features_with_exact_stats(mu2, np.diag(s2), 200, seed=3)
    by_hand = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert frechet_distance(a, b) == pytest.approx(by_hand, rel=1e-9)
    # the same data rotated: covariances no longer diagonal, distance unchanged
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert frechet_distance(a @ rotation, b @ rotation) == pytest.approx(by_hand, rel=1e-9)


def test_frechet_matches_the_2x2_formula_for_covariances_that_do_not_commute():
    s_a, s_b = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[0.5, -0.2], [-0.2, 3.0]])
    mu_a, mu_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    assert not np.allclose(s_a @ s_b, s_b @ s_a)
    # the eigenvalues l1, l2 of S_a S_b: sqrt(l1) + sqrt(l2) = sqrt(l1 + l2 + 2 sqrt(l1 l2))
    tr_sqrt = math.sqrt(np.trace(s_a @ s_b) + 2 * math.sqrt(np.linalg.det(s_a) * np.linalg.det(s_b)))
    by_hand = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_sqrt
    a = features_with_exact_stats(mu_a, s_a, 40, seed=4)
    b = features_with_exact_stats(mu_b, s_b, 60, seed=5)
    fd = frechet_distance(torch.from_numpy(a), torch.from_numpy(b))  # tensors work as arrays do
    assert fd == pytest.approx(by_hand, rel=1e-9)


def test_frechet_of_a_set_with_itself_is_zero_even_when_rank_deficient():
    x = torch.randn(500, 32, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    x[:, 5:] = 0  # the covariance has rank 5: eigenvalues at round-off level must not leak in
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x + 1) == pytest.approx(32.0, rel=1e-9)  # only the means moved


@pytest.fixture(scope="module")
def split():
    digits, _ = data.load("bundled")
    train_idx, test_idx = data.held_out_split(digits)
    return digits, train_idx, test_idx


def test_judge_features_order_real_then_blurred_then_noise(split):
    digits, train_idx, test_idx = split
    held_out = judge.predict_with_features(digits.images[test_idx])[1]
    real = digits.images[train_idx[:1000]].float().div(255).unsqueeze(1)     # (1000, 1, 28, 28)
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 256).reshape(1, 1, 5, 5)   # binomial ~ Gaussian, σ = 1 px
    blurred = F.conv2d(real, kernel, padding=2)
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    fd = {name: frechet_distance(judge.predict_with_features(x)[1], held_out)
          for name, x in [("real", real), ("blurred", blurred), ("noise", noise)]}
    assert fd["real"] < fd["blurred"] < fd["noise"]
    assert fd["real"] == pytest.approx(metrics.reference()["fid_real"])  # the same 1,000 digits


def test_nearest_distance_in_chunks_matches_brute_force(split):
    digits = split[0]
    samples, train = digits.images[:37].float() / 255, digits.images[100:403]
    chunked = metrics.nearest_distance(samples, train, chunk=8, train_chunk=50)
    a, b = samples.reshape(37, 784).double().numpy(), train.reshape(-1, 784).double().numpy() / 255
    brute = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(axis=1)  # (37,)
    np.testing.assert_allclose(chunked.numpy(), brute, atol=1e-3)


def test_near_copy_share_finds_exact_and_perturbed_copies_only(split):
    digits, train_idx, test_idx = split
    train = digits.images[train_idx[:500]]                                  # (500, 28, 28) uint8
    exact = train[:10].float() / 255
    gen = torch.Generator().manual_seed(0)
    perturbed = (train[10:20].float() / 255 + 0.01 * torch.randn(10, 28, 28, generator=gen)).clamp(0, 1)
    distinct = digits.images[test_idx[:20]].float() / 255                   # not in `train`
    samples = torch.cat([exact, perturbed, distinct])                       # 20 copies of 40
    assert metrics.near_copy_share(samples, train) == pytest.approx(0.5)
    assert metrics.near_copy_share(distinct, train) == 0.0
    assert metrics.near_copy_share(exact, train) == 1.0


def test_quality_report_passes_real_digits_and_fails_noise(split):
    digits, train_idx, _ = split
    # real digits that are neither the held-out reference nor the fid_real digits,
    # checked for copies against the rest of the training split
    real = digits.images[train_idx[1000:2000]].float() / 255
    rest = digits.images[torch.cat([train_idx[:1000], train_idx[2000:]])]
    report = metrics.quality_report(real, train_images=rest)
    assert all(metrics.passes(report).values()), report
    assert sum(report["histogram"]) == pytest.approx(1.0)
    assert report["min_digit_share"] == min(report["histogram"])
    assert report["fid_ratio"] == pytest.approx(report["fid"] / report["fid_real"])

    noise = torch.rand(1000, 28, 28, generator=torch.Generator().manual_seed(1))
    verdict = metrics.passes(metrics.quality_report(noise))
    assert not verdict["confident_share"] and not verdict["fid_ratio"] and verdict["near_copies"]


def test_near_copies_of_the_training_set_fail_the_bar(split):
    digits, train_idx, _ = split
    copies = digits.images[train_idx[1000:2000]].float() / 255  # in the bundled set, the default
    report = metrics.quality_report(copies)
    assert report["near_copies"] == 1.0 and not metrics.passes(report)["near_copies"]


def test_passes_holds_floors_and_ceilings_at_the_bar():
    at_bar = dict(metrics.QUALITY_BAR)
    assert all(metrics.passes(at_bar).values())
    for key, bar in metrics.QUALITY_BAR.items():
        worse = bar - 1e-6 if key in metrics.AT_LEAST else bar + 1e-6
        assert metrics.passes({**at_bar, key: worse}) == {k: k != key for k in metrics.QUALITY_BAR}


def test_legibility_counts_confident_images_and_the_digits_they_cover(split):
    digits, _, test_idx = split
    held_out = digits.images[test_idx[:200]]
    probs = judge.predict(held_out)
    confident = probs.max(dim=1).values > metrics.CONFIDENT
    by_hand = (confident.double().mean().item(), len(set(probs.argmax(dim=1)[confident].tolist())))
    assert metrics.legibility(held_out) == by_hand
    assert by_hand[0] > 0.9 and by_hand[1] == 10              # real digits: legible, all ten
    threes = held_out[digits.labels[test_idx[:200]] == 3]
    assert metrics.legibility(threes)[1] == 1                 # one digit, however many images
    noise = torch.rand(64, 28, 28, generator=torch.Generator().manual_seed(2))
    assert metrics.legibility(noise) == (0.0, 0)
    # the same share the quality report calls confident
    assert metrics.legibility(held_out)[0] == metrics.quality_report(held_out)["confident_share"]
