"""Shareable links: settings round-trip through a query string, and garbage is reported, not used."""
import pytest

from gan_core import query
from gan_core.config import LiveSettings, ModelSpec


def test_round_trip_of_non_defaults():
    live = LiveSettings(lr_g=1e-3, batch_size=64, loss="hinge", label_smoothing=0.1)
    spec = ModelSpec(arch="mlp", latent_dim=32, seed=7, conditional=False)
    params = query.encode(live, spec)
    assert params == {"lr_g": "0.001", "batch_size": "64", "loss": "hinge", "label_smoothing": "0.1",
                      "arch": "mlp", "latent_dim": "32", "seed": "7", "conditional": "false"}
    assert query.decode(params) == (live, spec, [])


def test_defaults_make_an_empty_query():
    assert query.encode(LiveSettings(), ModelSpec()) == {}


GARBAGE = {
    "lr_g": "abc", "lr_d": "1e9", "batch_size": "99999999999999999999", "d_steps": "-1",
    "loss": "<script>alert(1)</script>", "arch": "../../etc/passwd", "data": "/etc",
    "conditional": "maybe", "seed": "NaN", "latent_dim": "1" * 500, "beta1": "inf", "device": "tpu",
    "utm_source": "newsletter",
}


def test_garbage_is_reported_and_left_at_defaults():
    live, spec, problems = query.decode(GARBAGE)
    assert live == LiveSettings() and spec == ModelSpec()
    named = {p.split("=", 1)[0].removeprefix("ignored ") for p in problems}
    assert named == set(GARBAGE) - {"utm_source"}      # unknown keys are simply not ours
    assert all(len(p) < 300 for p in problems)          # long values are cut, not echoed whole


def test_good_values_survive_beside_bad_ones():
    live, spec, problems = query.decode({"lr_g": "0.001", "lr_d": "oops", "arch": "conv"})
    assert live.lr_g == 1e-3 and live.lr_d == LiveSettings().lr_d and spec.arch == "conv"
    assert len(problems) == 1 and problems[0].startswith("ignored lr_d='oops'")


@pytest.mark.parametrize("path", ["/etc", "../data", "C:\\\\x", "bundled/../.."])
def test_a_link_cannot_point_at_server_paths(path):
    _, spec, problems = query.decode({"data": path})
    assert spec.data == "bundled" and problems


def test_a_watch_id_is_checked_before_anything_looks_it_up():
    from gan_core import runs
    good = "a" * (runs.ID_LEN - 2) + "-_"
    assert query.watch_id({}) == (None, None)
    assert query.watch_id({"watch": good}) == (good, None)
    for bad in ("short", "a" * (runs.ID_LEN + 1), "a" * (runs.ID_LEN - 1) + "/", "../" * 6 + "ab",
                "a" * (runs.ID_LEN - 1) + "\u00e9", "x" * 100_000):
        run_id, problem = query.watch_id({"watch": bad})
        assert run_id is None and "watch=" in str(problem), bad
        assert len(str(problem)) < 200                       # a huge value is named by its length only


def test_a_watch_link_names_the_run_and_the_replica_holding_it():
    assert query.watch_link("http://host:8501/?lr_g=0.001", "abc") == "http://host:8501/?watch=abc"
    assert query.watch_link("http://host/", "abc", "r2") == "http://host/?watch=abc&replica=r2"
    # a watch link's own parameters are no settings: decoding ignores them
    assert query.decode({"watch": "abc", "replica": "r2"})[2] == []


def test_a_link_chooses_each_players_optimizer():
    live, _, problems = query.decode({"optimizer_g": "sgd", "optimizer_d": "rmsprop", "momentum": "0.5"})
    assert (live.optimizer_g, live.optimizer_d, live.momentum, problems) == ("sgd", "rmsprop", 0.5, [])
    assert query.encode(live, ModelSpec()) == {"optimizer_g": "sgd", "optimizer_d": "rmsprop", "momentum": "0.5"}
    live, _, problems = query.decode({"optimizer_d": "adamw", "momentum": "2"})
    assert live == LiveSettings()
    assert [p.split(":")[0] for p in problems] == ["ignored optimizer_d='adamw'", "ignored momentum='2'"]
    assert "one of adam, sgd, rmsprop" in problems[0]
