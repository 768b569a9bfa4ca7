"""Each diagnosis rule fires on a synthetic history built to show its failure, and no rule speaks
on a healthy one."""
import math

import numpy as np

from gan_core import diagnosis

N = 200


def healthy_history(n=N, seed=0):
    rng = np.random.default_rng(seed)
    noise = lambda scale: rng.normal(0, scale, n)  # noqa: E731  per-batch noise
    return {
        "step": list(range(n)),
        "loss_d": list(1.30 + noise(0.08)), "loss_g": list(0.90 + noise(0.10)),
        "d_real": list(0.60 + noise(0.03)), "d_fake": list(0.40 + noise(0.03)),
        "grad/G.net.0": list(0.50 + noise(0.05)), "grad/G.net.2": list(0.30 + noise(0.05)),
        "grad/D.features.1": list(0.40 + noise(0.05)), "grad/D.head": list(0.20 + noise(0.02)),
    }


def report(step, histogram=None, confident=0.85, diversity=0.9):
    return {"step": step, "histogram": histogram or [0.1] * 10, "confident_share": confident,
            "diversity": diversity, "fid": 5.0, "near_copies": 0.0}


def healthy_quality():
    return [report(s) for s in range(0, N, 40)]


def names(history, quality=()):
    return {f.name for f in diagnosis.diagnose(history, quality)}


def test_a_healthy_run_has_no_findings():
    assert names(healthy_history(), healthy_quality()) == set()
    assert names(healthy_history(seed=1)) == set()


def test_too_little_history_says_nothing():
    h = {k: v[:10] for k, v in healthy_history().items()}
    h["loss_d"][-1] = float("nan")
    assert diagnosis.diagnose(h) == []


def test_d_winning_when_d_is_sure_and_g_gradients_fade():
    h = healthy_history()
    for i in range(N - 60, N):
        h["d_real"][i], h["d_fake"][i] = 0.97, 0.02
        h["grad/G.net.0"][i], h["grad/G.net.2"][i] = 0.01, 0.005
    [f] = diagnosis.diagnose(h, healthy_quality())
    assert f.name == "d_winning" and "faded" in f.message and "learning rate" in f.advice


def test_mode_collapse_from_the_judge_histogram():
    q = healthy_quality() + [report(N, histogram=[0.0, 0.70, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.05, 0.0])]
    [f] = diagnosis.diagnose(healthy_history(), q)
    assert f.name == "mode_collapse" and "mostly 1" in f.message


def test_mode_collapse_from_a_drop_in_diversity():
    q = healthy_quality() + [report(N, diversity=0.3)]
    [f] = diagnosis.diagnose(healthy_history(), q)
    assert f.name == "mode_collapse" and "alike" in f.message


def test_early_blobs_are_not_called_a_collapse():
    # at the start the judge reads no digit at all: its histogram is meaningless
    q = [report(10, histogram=[0, 0.6, 0, 0, 0, 0, 0, 0, 0, 0.4], confident=0.05, diversity=0.3)]
    assert names(healthy_history(), q) == set()


def test_oscillation_when_the_losses_swing():
    h = healthy_history()
    swing = 1.6 * np.sin(2 * math.pi * np.arange(N) / 25)       # a period of 25 points
    h["loss_g"] = list(np.asarray(h["loss_g"]) + 1.0 + swing)
    [f] = diagnosis.diagnose(h, healthy_quality())
    assert f.name == "oscillation" and "L_G" in f.message and "β1" in f.advice


def test_a_slow_trend_is_not_an_oscillation():
    h = healthy_history()
    h["loss_g"] = list(np.asarray(h["loss_g"]) + np.linspace(0, 3, N))
    assert names(h, healthy_quality()) == set()


def test_divergence_on_a_non_finite_loss():
    h = healthy_history()
    h["loss_d"][-3] = float("nan")
    assert "divergence" in names(h)
    assert diagnosis.diagnose(h)[0].severity == "error"


def test_divergence_on_exploding_gradients():
    h = healthy_history()
    h["grad/D.head"][-2] = 500.0
    [f] = diagnosis.diagnose(h, healthy_quality())
    assert f.name == "divergence" and "D's gradient norm" in f.message


def test_d_collapsed_when_d_says_one_half_yet_digits_are_poor():
    h = healthy_history()
    h["d_real"] = [0.5] * N
    h["d_fake"] = [0.5] * N
    poor = healthy_quality()[:-1] + [report(N, confident=0.1)]
    assert names(h, poor) == {"d_collapsed"}
    assert names(h, healthy_quality()) == set()   # at 1/2 with good digits: the equilibrium, not a fault


def test_d_collapsed_under_a_huge_d_learning_rate_says_lower_it():
    h = healthy_history()
    h["d_real"] = [0.5] * N
    h["d_fake"] = [0.5] * N
    poor = healthy_quality()[:-1] + [report(N, confident=0.1)]
    [calm] = diagnosis.diagnose(h, poor)
    assert calm.advice.startswith("Raise D's learning rate")
    h["lr_d"] = [1e-1] * N                       # the forced collapse of the studio: lr_d at its top
    [wrecked] = diagnosis.diagnose(h, poor)
    assert wrecked.name == "d_collapsed" and wrecked.advice.startswith("Lower D's learning rate")


def test_g_winning_when_d_rates_fakes_above_reals():
    h = healthy_history()
    h["d_real"][-50:] = [0.52] * 50                 # window means: fake 0.80 > 0.6 and > real + 0.1
    h["d_fake"][-50:] = [0.80] * 50
    [f] = diagnosis.diagnose(h, healthy_quality())
    assert f.name == "g_winning" and "0.80" in f.message and "0.52" in f.message
    h["d_fake"][-50:] = [0.61] * 50                 # above 0.6 but within 0.1 of real: no finding
    assert names(h, healthy_quality()) == set()
    h["d_real"][-50:] = [0.40] * 50
    h["d_fake"][-50:] = [0.58] * 50                 # above real by 0.18 but not above 0.6: no finding
    assert names(h, healthy_quality()) == set()


def test_mode_collapse_when_samples_are_near_copies_twice_running():
    # diversity below ALIKE (0.06 of real digits') in the last two readings, even before any digit is legible
    blobs = [report(s, confident=0.0, diversity=0.15) for s in range(0, N - 40, 40)]
    once = blobs + [report(N, confident=0.0, diversity=0.04)]
    assert names(healthy_history(), once) == set()
    twice = blobs + [report(N - 20, confident=0.0, diversity=0.05), report(N, confident=0.0, diversity=0.03)]
    [f] = diagnosis.diagnose(healthy_history(), twice)
    assert f.name == "mode_collapse" and "near-copies" in f.message and "0.03" in f.message
    edge = blobs + [report(N - 20, confident=0.0, diversity=0.06), report(N, confident=0.0, diversity=0.03)]
    assert names(healthy_history(), edge) == set()  # 0.06 is not below 0.06
