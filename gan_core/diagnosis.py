"""What is going wrong, in plain words: pure rules over a run's history, each one testable.

`diagnose(history, quality)` reads the step metrics (columns as in Snapshot.history: step, loss_d,
loss_g, d_real, d_fake, grad/<layer>) and the live quality reports (probe.quality, oldest first) and
returns a Finding per rule that fires. The rules look at the recent window only, so a finding clears
once the run recovers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .i18n import msg

WINDOW = 50          # recent history points a rule looks at
MIN_POINTS = 20      # fewer than this and no rule speaks
SEVERITIES = ("info", "warning", "error")
D_LR_TOO_HIGH = 1e-2  # D's learning rate beyond which Adam's steps overshoot (the default is 1.5e-3)
ALIKE = 0.06          # diversity (of real digits') below which G's samples are near-copies of one another
G_WINNING = 0.6       # D's mean verdict on generated digits above which, if also above real ones', G is winning


@dataclass(frozen=True)
class Finding:
    name: str        # the rule: d_winning, g_winning, mode_collapse, oscillation, divergence, d_collapsed
    severity: str    # info, warning or error
    message: str     # what the numbers show (an i18n.Message: English as a str, translated on the page)
    advice: str      # what to try


def _recent(history: dict[str, list[float]], key: str, window: int = WINDOW) -> np.ndarray:
    return np.asarray(history.get(key, [])[-window:], dtype=float)


def _grad_keys(history: dict[str, list[float]], tag: str) -> list[str]:
    return [k for k in history if k.startswith(f"grad/{tag}.")]


def _total_grad(history: dict[str, list[float]], tag: str) -> np.ndarray:
    # the model's whole gradient norm per step, from its per-layer norms
    cols = [np.asarray(history[k], dtype=float) for k in _grad_keys(history, tag)]
    return np.sqrt(sum(c ** 2 for c in cols)) if cols else np.zeros(0)


def divergence(history, quality=()) -> Finding | None:
    """Non-finite or exploding losses or gradient norms."""
    keys = ["loss_d", "loss_g"] + _grad_keys(history, "G") + _grad_keys(history, "D")
    recent = {k: _recent(history, k) for k in keys}
    if any(not np.isfinite(v).all() for v in recent.values()):
        return Finding("divergence", "error", msg("Losses or gradient norms are no longer finite numbers."),
                       msg("Lower both learning rates (10x), or switch to the hinge loss."))
    for tag in ("G", "D"):
        total = _total_grad(history, tag)
        if len(total) >= 2 * MIN_POINTS:
            before, now = np.median(total[:-WINDOW] if len(total) > WINDOW else total[:MIN_POINTS]), total[-10:].max()
            if before > 0 and now > 100 * before:
                return Finding("divergence", "error",
                               msg("{model}'s gradient norm jumped to {now:.3g}, over 100x its usual {before:.3g}.",
                                   model=tag, now=now, before=before),
                               msg("Lower the learning rates; training is about to blow up."))
    big = max((np.abs(v).max() for k, v in recent.items() if k.startswith("loss") and len(v)), default=0.0)
    if big > 50:
        return Finding("divergence", "error", msg("A loss reached {value:.3g}: the game is running away.", value=big),
                       msg("Lower the learning rates, or try the hinge loss."))
    return None


def d_winning(history, quality=()) -> Finding | None:
    """D tells real from fake with ease: D(x) near 1, D(G(z)) near 0, and G learns little."""
    real, fake = _recent(history, "d_real").mean(), _recent(history, "d_fake").mean()
    if not (real > 0.9 and fake < 0.1):
        return None
    g = _total_grad(history, "G")
    vanishing = len(g) > WINDOW and np.median(g[-WINDOW:]) < 0.1 * np.median(g[:-WINDOW])
    return Finding("d_winning", "warning",
                   msg("D is winning: it says {real:.2f} to real digits and {fake:.2f} to generated ones, and "
                       "G's gradients have faded to a tenth of what they were.", real=real, fake=fake) if vanishing
                   else msg("D is winning: it says {real:.2f} to real digits and {fake:.2f} to generated ones.",
                            real=real, fake=fake),
                   msg("Lower D's learning rate, add label smoothing (0.1), or try the hinge loss."))


def g_winning(history, quality=()) -> Finding | None:
    """G fools D: D rates generated digits above real ones. D learns too slowly to keep up, and G
    climbs D's fixed judgement instead of learning digits."""
    real, fake = _recent(history, "d_real").mean(), _recent(history, "d_fake").mean()
    if not (fake > G_WINNING and fake > real + 0.1):
        return None
    return Finding("g_winning", "warning",
                   msg("G is winning: D says {fake:.2f} to generated digits, more than the {real:.2f} it says to "
                       "real ones. D has stopped keeping up, so G learns to please D, not to draw digits.",
                       fake=fake, real=real),
                   msg("Raise D's learning rate or its steps per G step, or lower G's learning rate."))


def mode_collapse(history, quality=()) -> Finding | None:
    """G draws only a few kinds of digit, or its samples look alike."""
    if not quality:
        return None
    last = quality[-1]
    shares = np.asarray(last.get("histogram", []), dtype=float)
    kinds = int((shares >= 0.05).sum())
    # the judge's histogram means something once it reads digits at all (early blobs are no digit)
    legible = last.get("confident_share", 0.0) >= 0.3
    # diversity relative to real digits; a drop from the run's own best, not the blurry start
    best = max((q.get("diversity", 0.0) for q in quality[:-1]), default=0.0)
    low_diversity = best >= 0.5 and last.get("diversity", 1.0) < 0.6 * best
    # or near-copies in two readings running: even the blurry blobs of a fresh G differ more than that
    alike = len(quality) >= 2 and all(q.get("diversity", 1.0) < ALIKE for q in quality[-2:])
    if len(shares) and legible and (kinds <= 4 or shares.max() > 0.5):
        top = ", ".join(f"{d}" for d in np.argsort(-shares)[:kinds or 1])
        message = msg("Mode collapse: the judge reads {kinds} kind(s) of digit in G's samples (mostly {top}).",
                      kinds=kinds, top=top)
    elif low_diversity:
        message = msg("Mode collapse: G's samples have grown alike (diversity {now:.2f} of real digits', "
                      "down from {best:.2f}).", now=last["diversity"], best=best)
    elif alike:
        message = msg("Mode collapse: G draws near-copies of one image whatever z is (diversity {now:.2f} of "
                      "real digits').", now=last["diversity"])
    else:
        return None
    return Finding("mode_collapse", "error" if kinds <= 2 else "warning", message,
                   msg("Lower the learning rates, give D more steps per G step, or try another loss."))


def oscillation(history, quality=()) -> Finding | None:
    """The losses swing back and forth with a large amplitude instead of settling."""
    for key, name in (("loss_g", "L_G"), ("loss_d", "L_D")):
        v = _recent(history, key)
        if len(v) < MIN_POINTS:
            continue
        smooth = np.convolve(v, np.ones(5) / 5, mode="valid")      # per-batch noise out, swings kept
        centered = smooth - smooth.mean()
        amplitude = np.percentile(smooth, 95) - np.percentile(smooth, 5)
        crossings = int((np.diff(np.sign(centered)) != 0).sum())
        if amplitude > max(1.0, 0.75 * abs(smooth.mean())) and crossings >= 3:
            return Finding("oscillation", "warning",
                           msg("{loss} swings by {amplitude:.2f} back and forth ({swings} swings lately).",
                               loss=name, amplitude=amplitude, swings=crossings // 2),
                           msg("Lower the learning rates, or Adam's β1 (0.5 or less)."))
    return None


def d_collapsed(history, quality=()) -> Finding | None:
    """D says about 1/2 to everything, yet the digits are poor: D has stopped teaching G."""
    real, fake = _recent(history, "d_real").mean(), _recent(history, "d_fake").mean()
    if not quality or not (abs(real - 0.5) < 0.05 and abs(fake - 0.5) < 0.05):
        return None
    confident = quality[-1].get("confident_share", 1.0)
    if confident >= 0.5:
        return None
    lr_d = _recent(history, "lr_d")
    # Adam steps far too large wreck D the same way as too little training: tell them apart
    too_fast = len(lr_d) and lr_d[-1] > D_LR_TOO_HIGH
    return Finding("d_collapsed", "warning" if too_fast else "info",
                   msg("D cannot tell real from generated (D(x) {real:.2f}, D(G(z)) {fake:.2f}), yet only "
                       "{confident:.0%} of the samples are legible digits: D has stopped teaching G.",
                       real=real, fake=fake, confident=confident),
                   msg("Lower D's learning rate: at {lr:.0e} its steps are too large to learn anything.", lr=lr_d[-1])
                   if too_fast else msg("Raise D's learning rate, or give D more steps per G step."))


RULES = (divergence, d_winning, g_winning, mode_collapse, oscillation, d_collapsed)


def diagnose(history: dict[str, list[float]], quality: list[dict] = ()) -> list[Finding]:
    """Every rule that fires on the recent history, the most severe first; [] for a healthy run."""
    if len(history.get("step", [])) < MIN_POINTS:
        return []
    found = [f for rule in RULES if (f := rule(history, quality)) is not None]
    return sorted(found, key=lambda f: -SEVERITIES.index(f.severity))
