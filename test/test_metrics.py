"""Saliency metrics: hand-computed cases, properties and slow reference transcriptions."""

import numpy as np
import pytest

from skd_ros.metrics import (
    _matlab_colon,
    auc_judd,
    auc_shuffled,
    auc_shuffled_mit,
    cc,
    fixations_from_map,
    kld,
    nss,
    nss_weighted,
    sim,
)

MAP_METRICS = [nss, nss_weighted, cc, sim, kld]


# ----------------------------------------------------------------------------- helpers


def _blobs(shape, centres, sigma):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2)) for y, x in centres)


def _slow_auc_judd(saliency, fixations):
    """Line-by-line transcription of MIT AUC_Judd.m (no jitter)."""
    s = saliency.ravel().astype(float)
    f = fixations.ravel()
    s = (s - s.min()) / (s.max() - s.min())
    sth = s[f > 0]
    n_fix, n_pix = len(sth), len(s)
    tp, fp = [0.0], [0.0]
    for i, thresh in enumerate(sorted(sth, reverse=True), start=1):
        above = np.sum(s >= thresh)
        tp.append(i / n_fix)
        fp.append((above - i) / (n_pix - n_fix))
    tp.append(1.0)
    fp.append(1.0)
    return sum((fp[k] - fp[k - 1]) * (tp[k] + tp[k - 1]) / 2 for k in range(1, len(tp)))


def _slow_pairwise_auc(positives, negatives):
    """Exact ROC area by counting every (positive, negative) pair, ties one half."""
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ----------------------------------------------------------------------------- hand cases


def test_auc_judd_without_ties_by_hand():
    # values 1 4 9 / 3 7 2, fixations at 9 and 3; Npix = 6, Nfix = 2.
    # thr 9: 1 pixel >= 9 -> tp 1/2, fp (1-1)/4 = 0
    # thr 3: 4 pixels >= 3 -> tp 1, fp (4-2)/4 = 1/2
    # (0,0) (0,.5) (.5,1) (1,1): 0 + .5*.75 + .5*1 = 0.875
    # (pairwise AUC is 6/8 = .75: Judd interpolates linearly between fixation thresholds)
    s = np.array([[1, 4, 9], [3, 7, 2]])
    f = np.array([[0, 0, 1], [1, 0, 0]])
    assert auc_judd(s, f) == pytest.approx(0.875)
    assert auc_shuffled(s, f, 1 - f) == pytest.approx(0.75)


def test_auc_judd_with_tie_to_a_non_fixated_pixel_by_hand():
    # values 1 4 4 / 3 7 2, fixations at (0,2)=4 and (1,0)=3; a non-fixated 4 ties.
    # thr 4: 3 pixels >= 4 -> tp 1/2, fp (3-1)/4 = 1/2
    # thr 3: 4 pixels >= 3 -> tp 1,   fp (4-2)/4 = 1/2
    # (0,0) (.5,.5) (.5,1) (1,1): .5*.25 + 0 + .5*1 = 0.625
    s = np.array([[1, 4, 4], [3, 7, 2]])
    f = np.array([[0, 0, 1], [1, 0, 0]])
    assert auc_judd(s, f) == pytest.approx(0.625)


def test_auc_judd_with_tie_between_fixations_steps_back_like_matlab():
    # values 1 5 5 / 3 7 2, both 5s fixated.
    # thr 5 (i=1): 3 pixels >= 5 -> tp 1/2, fp (3-1)/4 = 1/2
    # thr 5 (i=2): 3 pixels >= 5 -> tp 1,   fp (3-2)/4 = 1/4   (fp goes backwards)
    # (0,0) (.5,.5) (.25,1) (1,1): .5*.25 - .25*.75 + .75*1 = 0.6875
    s = np.array([[1, 5, 5], [3, 7, 2]])
    f = np.array([[0, 1, 1], [0, 0, 0]])
    assert auc_judd(s, f) == pytest.approx(0.6875)


def test_auc_shuffled_exact_with_ties_by_hand():
    s = np.array([[1, 4, 4], [3, 7, 2]])
    f = np.array([[0, 0, 1], [1, 0, 0]])  # positives 4, 3
    other = np.array([[1, 1, 0], [0, 1, 0]])  # negatives 1, 4, 7
    # 4: beats 1, ties 4 (1/2), loses to 7 -> 1.5;  3: beats 1 -> 1.  2.5 / 6
    assert auc_shuffled(s, f, other) == pytest.approx(2.5 / 6)
    # a location fixated in both maps is a negative too: negatives 4 (same pixel), 7
    overlap = np.array([[0, 0, 1], [0, 1, 0]])
    # 4: ties 4 -> .5;  3: 0.  0.5 / 4
    assert auc_shuffled(s, f, overlap) == pytest.approx(0.125)


def test_auc_shuffled_mit_by_hand():
    # normalised: 0 .5 .5 / 1/3 1 1/6; positives .5, 1/3; negatives .5, 1 (all of them in
    # every split since Nother == Nfix). Thresholds 1, .9, ..., 0:
    # t in 1...0.6: tp 0, fp 1/2;  t = .5, .4: tp 1/2, fp 1;  t <= .3: tp 1, fp 1
    # (0,0) (.5,0) ... (1,.5) ... (1,1): area .5 * .25 = .125 (equals the exact value here)
    s = np.array([[1, 4, 4], [3, 7, 2]])
    f = np.array([[0, 0, 1], [1, 0, 0]])
    other = np.array([[0, 1, 0], [0, 1, 0]])
    assert auc_shuffled_mit(s, f, other, n_splits=5, rng=0) == pytest.approx(0.125)
    assert auc_shuffled(s, f, other) == pytest.approx(0.125)


def test_matlab_colon_includes_the_end_point():
    steps = _matlab_colon(0.3, 0.1)
    assert len(steps) == 4 and steps[-1] == 0.3 and steps[0] == 0.0
    assert len(_matlab_colon(0.0, 0.1)) == 1
    assert len(_matlab_colon(0.95, 0.1)) == 10


def test_nss_by_hand():
    # values 0 0 0 / 0 0 6: mean 1, std (ddof 0) sqrt((5*1 + 25)/6) = sqrt(5)
    s = np.array([[0, 0, 0], [0, 0, 6]])
    assert nss(s, [[0, 0, 0], [0, 0, 1]]) == pytest.approx(np.sqrt(5))  # 5/sqrt5
    assert nss(s, [[1, 0, 0], [0, 0, 1]]) == pytest.approx(2 / np.sqrt(5))  # (-1+5)/2/sqrt5


def test_nss_weighted_by_hand():
    # z = -1/sqrt5 everywhere except sqrt5 at the 6; weights 1 at (0,2), 3 at (1,2):
    # (1*(-1/sqrt5) + 3*sqrt5) / 4 = (-1 + 15) / (4 sqrt5) = 3.5 / sqrt5
    s = np.array([[0, 0, 0], [0, 0, 6]])
    assert nss_weighted(s, [[0, 0, 1], [0, 0, 3]]) == pytest.approx(3.5 / np.sqrt(5))


def test_cc_by_hand():
    # centred: (-1.5 -.5 .5 1.5) and (-1.5 .5 -.5 1.5): sum of products 4, norms^2 5 and 5
    assert cc([[1, 2], [3, 4]], [[1, 3], [2, 4]]) == pytest.approx(0.8)


def test_sim_by_hand():
    # 0 1 2 3 -> minmax 0 1/3 2/3 1 (sum 2) -> 0 1/6 1/3 1/2
    # 1 1 0 2 -> minmax .5 .5 0 1 (sum 2)   -> 1/4 1/4 0 1/2
    # min: 0 1/6 0 1/2 -> 2/3
    assert sim([[0, 1], [2, 3]], [[1, 1], [0, 2]]) == pytest.approx(2 / 3)


def test_kld_by_hand():
    # P uniform 1/4; G = .5 0 .25 .25: .5 ln(.5/.25) + 0 + 2 * .25 ln 1 = .5 ln 2
    assert kld(np.ones((2, 2)), [[2, 0], [1, 1]]) == pytest.approx(0.5 * np.log(2))
    # P = .25 .75 0 0; G = .5 .5 0 0: .5 ln 2 + .5 ln(2/3) = .5 ln(4/3)
    assert kld([[1, 3], [0, 0]], [[1, 1], [0, 0]]) == pytest.approx(0.5 * np.log(4 / 3))


def test_kld_eps_bounds_a_missed_fixation():
    # G has mass where P is 0: the term is .5 * log(eps + .5/eps) ~ .5 * 35.3, finite
    value = kld([[1, 0]], [[1, 1]])
    assert np.isfinite(value)
    assert value == pytest.approx(0.5 * np.log(0.5) + 0.5 * np.log(0.5 / np.finfo(float).eps))


# ----------------------------------------------------------------------------- cross-checks


@pytest.mark.parametrize("levels", [None, 8])
def test_auc_judd_matches_slow_transcription(rng, levels):
    for _ in range(5):
        s = rng.random((30, 40))
        if levels:  # quantised: plenty of ties, among fixations too
            s = np.floor(s * levels)
        f = rng.random((30, 40)) < 0.03
        f[0, 0] = True
        assert auc_judd(s, f) == pytest.approx(_slow_auc_judd(s, f), abs=1e-9)


@pytest.mark.parametrize("levels", [None, 6])
def test_auc_shuffled_matches_pairwise_count(rng, levels):
    for _ in range(5):
        s = rng.random((20, 30))
        if levels:
            s = np.floor(s * levels)
        f = rng.random(s.shape) < 0.05
        other = rng.random(s.shape) < 0.2
        f[0, 0] = other[0, 0] = True
        expected = _slow_pairwise_auc(s[f], s[other])
        assert auc_shuffled(s, f, other) == pytest.approx(expected, abs=1e-9)


def test_auc_shuffled_mit_close_to_exact_on_smooth_map():
    shape = (60, 80)
    truth = _blobs(shape, [(22, 27), (38, 58), (30, 40)], sigma=6)
    fix = fixations_from_map(truth, 80, rng=1)
    other = fixations_from_map(_blobs(shape, [(30, 40)], sigma=20), 400, rng=2)
    smooth = _blobs(shape, [(20, 25), (40, 60)], sigma=12)
    mit = auc_shuffled_mit(smooth, fix, other, rng=3)
    assert mit == pytest.approx(auc_shuffled(smooth, fix, other), abs=0.02)
    assert auc_shuffled_mit(smooth, fix, other, rng=3) == mit  # seeded
    # a peakier map piles values into the lowest 0.1 bin, where MIT counts them as ties:
    # it then tracks the exact AUC of the binned map rather than of the map itself
    peaky = _blobs(shape, [(20, 25), (40, 60)], sigma=8)
    binned = np.floor((peaky - peaky.min()) / np.ptp(peaky) * 10 + 1e-9)
    mit = auc_shuffled_mit(peaky, fix, other, rng=3)
    assert mit == pytest.approx(auc_shuffled(binned, fix, other), abs=0.01)
    assert abs(mit - auc_shuffled(peaky, fix, other)) > 0.02


# ----------------------------------------------------------------------------- properties


def test_perfect_map():
    shape = (40, 50)
    centres = [(10, 10), (25, 35), (32, 12)]
    gt = _blobs(shape, centres, sigma=3)
    fix = np.zeros(shape, dtype=bool)
    fix[tuple(np.array(centres).T)] = True
    assert cc(gt, gt) == pytest.approx(1.0)
    assert sim(gt, gt) == pytest.approx(1.0)
    assert kld(gt, gt) == pytest.approx(0.0, abs=1e-9)
    assert auc_judd(gt, fix) > 0.99
    assert auc_shuffled(gt, fix, ~fix) > 0.99


def test_flat_map_carries_no_information(rng):
    flat = np.full((10, 12), 0.3)
    fix = rng.random(flat.shape) < 0.2
    fix[0, 0], fix[0, 1] = True, False
    gt = rng.random(flat.shape)
    assert nss(flat, fix) == 0.0
    assert cc(flat, gt) == 0.0 and cc(gt, flat) == 0.0
    assert auc_judd(flat, fix) == 0.5
    assert auc_shuffled(flat, fix, ~fix) == 0.5
    assert auc_shuffled_mit(flat, fix, ~fix, n_splits=3, rng=0) == 0.5
    # SIM / KLD treat a flat map, the all-zero one too, as uniform
    assert sim(flat, gt) == pytest.approx(sim(np.ones_like(gt), gt))
    assert sim(np.zeros_like(gt), gt) == pytest.approx(sim(np.ones_like(gt), gt))
    assert kld(np.zeros_like(gt), gt) == pytest.approx(kld(flat, gt))
    assert kld(flat, gt) > 0


def test_random_map_is_at_chance(rng):
    s = rng.random((100, 100))
    fix = rng.random(s.shape) < 0.02
    other = rng.random(s.shape) < 0.05
    assert auc_judd(s, fix) == pytest.approx(0.5, abs=0.07)
    assert auc_shuffled(s, fix, other) == pytest.approx(0.5, abs=0.07)
    assert cc(s, rng.random(s.shape)) == pytest.approx(0.0, abs=0.05)
    assert nss(s, fix) == pytest.approx(0.0, abs=0.25)


def test_invariance_to_positive_scaling_and_shifting(rng):
    s = rng.random((20, 25))
    gt = rng.random(s.shape)
    fix = rng.random(s.shape) < 0.1
    fix[0, 0] = True
    other = ~fix
    t = 3.0 * s + 5.0
    for metric, target in [(nss, fix), (cc, gt), (sim, gt), (nss_weighted, gt)]:
        assert metric(t, target) == pytest.approx(metric(s, target), abs=1e-12)
    assert sim(s, 2.0 * gt + 1.0) == pytest.approx(sim(s, gt), abs=1e-12)
    assert cc(s, 2.0 * gt + 1.0) == pytest.approx(cc(s, gt), abs=1e-12)
    assert auc_judd(t, fix) == pytest.approx(auc_judd(s, fix), abs=1e-12)
    assert auc_shuffled(np.exp(s), fix, other) == auc_shuffled(s, fix, other)  # monotone
    assert kld(4.0 * s, gt) == pytest.approx(kld(s, gt), abs=1e-12)  # scaling only


def test_inverted_map(rng):
    s = rng.random((60, 60))
    fix = rng.random(s.shape) < 0.05
    other = rng.random(s.shape) < 0.1
    assert auc_shuffled(-s, fix, other) == pytest.approx(1 - auc_shuffled(s, fix, other))
    assert auc_judd(-s, fix) == pytest.approx(1 - auc_judd(s, fix), abs=0.01)
    assert nss(-s, fix) == pytest.approx(-nss(s, fix))
    assert cc(-s, s) == pytest.approx(-1.0)


def test_cc_is_symmetric(rng):
    a, b = rng.random((2, 15, 15))
    assert cc(a, b) == pytest.approx(cc(b, a), abs=1e-15)


def test_nss_weighted_equals_nss_for_binary_map(rng):
    s = rng.random((12, 14))
    fix = rng.random(s.shape) < 0.2
    fix[0, 0] = True
    assert nss_weighted(s, fix) == pytest.approx(nss(s, fix))


def test_fixation_map_dtypes_agree(rng):
    s = rng.random((10, 10))
    fix = rng.random(s.shape) < 0.2
    fix[0, 0] = True
    for metric in (nss, auc_judd):
        expected = metric(s, fix)
        assert metric(s, fix.astype(np.uint8)) == expected
        assert metric(s, fix * 2.5) == expected


@pytest.mark.parametrize("metric", MAP_METRICS)
def test_batch_equals_per_map(rng, metric):
    s = rng.random((4, 9, 11))
    gt = rng.random(s.shape) * (rng.random(s.shape) < 0.3)
    gt[:, 0, 0] = 1.0
    s[2] = 0.7  # a flat map in the batch
    batched = metric(s, gt)
    assert isinstance(batched, np.ndarray) and batched.shape == (4,)
    per_map = [metric(s[i], gt[i]) for i in range(4)]
    assert all(isinstance(v, float) for v in per_map)
    np.testing.assert_allclose(batched, per_map, rtol=0, atol=1e-12)


def test_auc_judd_jitter_is_seeded_and_breaks_ties(rng):
    s = np.floor(rng.random((20, 20)) * 3)
    fix = rng.random(s.shape) < 0.1
    fix[0, 0] = True
    a = auc_judd(s, fix, jitter=True, rng=7)
    assert a == auc_judd(s, fix, jitter=True, rng=7)
    assert a != auc_judd(s, fix)
    # exact pairwise AUC is where tie-broken AUC_Judd lands, on average
    exact = auc_shuffled(s, fix, ~fix)
    jittered = np.mean([auc_judd(s, fix, jitter=True, rng=k) for k in range(20)])
    assert jittered == pytest.approx(exact, abs=0.03)
    # well-separated values: jitter changes nothing
    distinct = rng.permutation(400).reshape(20, 20).astype(float)
    assert auc_judd(distinct, fix, jitter=True, rng=1) == pytest.approx(auc_judd(distinct, fix))


def test_fixations_from_map(rng):
    gt = np.zeros((30, 30))
    gt[:10, :10] = 9.0
    gt[20:, 20:] = 1.0
    a = fixations_from_map(gt, 40, rng=5)
    assert a.dtype == bool and a.shape == gt.shape
    assert a.sum() == 40 and not np.any(a & (gt == 0))
    assert np.array_equal(a, fixations_from_map(gt, 40, rng=np.random.default_rng(5)))
    b = fixations_from_map(gt, 200, rng=6, replace=True)
    assert 0 < b.sum() <= 200
    assert b[:10, :10].sum() > 2 * b[20:, 20:].sum()


# ----------------------------------------------------------------------------- errors


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(8, 10\).*resize the prediction"):
        cc(np.ones((4, 5)), np.ones((8, 10)))
    with pytest.raises(ValueError, match="resize the prediction"):
        auc_judd(np.ones((4, 5)), np.ones((5, 4)))


def test_empty_fixation_maps_are_rejected():
    s = np.arange(12.0).reshape(3, 4)
    none = np.zeros((3, 4))
    some = np.eye(3, 4)
    with pytest.raises(ValueError, match="fixations has no fixated"):
        nss(s, none)
    with pytest.raises(ValueError, match="fixations has no fixated"):
        auc_judd(s, none)
    with pytest.raises(ValueError, match="other_fixations has no fixated"):
        auc_shuffled(s, some, none)
    with pytest.raises(ValueError, match="batch index 1"):
        nss(np.stack([s, s]), np.stack([some, none]))


def test_all_zero_ground_truth_is_rejected():
    s = np.arange(12.0).reshape(3, 4)
    for metric in (nss_weighted, cc, sim, kld):
        with pytest.raises(ValueError, match="gt_map is all zero"):
            metric(s, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="gt_map is all zero"):
        fixations_from_map(np.zeros((3, 4)), 2, rng=0)


@pytest.mark.parametrize("metric", [*MAP_METRICS, auc_judd])
def test_nan_is_rejected(metric):
    bad = np.ones((3, 3))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="saliency contains NaN"):
        metric(bad, np.eye(3))
    with pytest.raises(ValueError, match="contains NaN"):
        metric(np.eye(3), bad)


def test_other_invalid_inputs():
    s = np.arange(9.0).reshape(3, 3)
    with pytest.raises(ValueError, match="single"):
        auc_judd(np.stack([s, s]), np.stack([np.eye(3)] * 2))
    with pytest.raises(ValueError, match="every pixel is fixated"):
        auc_judd(s, np.ones((3, 3)))
    with pytest.raises(ValueError, match="negative"):
        kld(s - 4, np.eye(3))
    with pytest.raises(ValueError, match="negative"):
        nss_weighted(s, -np.eye(3))
    with pytest.raises(ValueError, match="n_splits"):
        auc_shuffled_mit(s, np.eye(3), 1 - np.eye(3), n_splits=0)
    with pytest.raises(ValueError, match="distinct fixations"):
        fixations_from_map(np.eye(3), 4, rng=0)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        cc(np.ones((2, 2, 3, 3)), np.ones((2, 2, 3, 3)))
