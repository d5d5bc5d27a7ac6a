"""``report.md``: a human-readable account of one analysis, with the figures embedded.

Rendered from the summary objects of :mod:`latentsym.report.summary` (numbers that the
JSON writes as null, None and NaN alike, print as ``–``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

from latentsym.analysis.mechanism_check import MechanismCheck
from latentsym.report.summary import InvariantSummary, PhysicsChecks, RunSummary

__all__ = ["render_invariant_report", "render_report"]


def _given(x: object) -> bool:
    """False for None and for a non-finite float (what the JSON writes as null)."""
    if x is None:
        return False
    return not (isinstance(x, Real) and not isinstance(x, Integral) and not math.isfinite(x))


def _fmt(x: object, digits: int = 3) -> str:
    if not _given(x):
        return "–"
    if isinstance(x, Real) and not isinstance(x, Integral):
        return f"{float(x):.{digits}g}"
    return str(x)


def _weights_section(weights: Mapping[str, Any] | None) -> list[str]:
    if not weights or not weights.get("n_negative"):
        return []
    how = (
        "the loss was weighted per event with the signed weights"
        if weights.get("trained_weighted")
        else "training was unweighted (every event counts once, whatever its sign): the "
        "model learns the density of the generated events, not the cross-section; "
        "`--weighted` trains on the signed weights"
    )
    return [
        "",
        "## Event weights",
        "",
        f"{weights['n_negative']} of {weights['n_events']} events "
        f"({100 * weights['negative_fraction']:.1f}%) have negative weights; they carry "
        f"{100 * weights['negative_share']:.1f}% of the summed |weight| (net sum "
        f"{weights['sum_w']:.6g}, summed |weight| {weights['sum_abs_w']:.6g}); {how}.",
    ]


def _checks_section(checks: PhysicsChecks) -> list[str]:
    lines: list[str] = []
    cons = checks.constraints
    if cons:
        lines += [
            "",
            "## Hidden relations",
            "",
            "Relative spread of each constraint on decoded events (samples of the learned "
            "flow prior, 'prior': N(0, 1) samples on the relevant directions, samples of the "
            "aggregate "
            "posterior, and the encoded data), on the data, and on a null with every feature "
            "shuffled across events. decoded / null near 0: the model learned the relation; "
            "near 1: it did not. Coverage (std of decoded / std of data, median over "
            f"features): N(0, 1) {_fmt(cons.coverage_prior)}, flow "
            f"{_fmt(cons.coverage_flow)}, posterior {_fmt(cons.coverage_posterior)}, encoded "
            f"{_fmt(cons.coverage_encoded)}; the ratios mean something only when it is "
            "near 1."
            + (
                f" The flow prior was fitted to the encoded {cons.flow_source} of the "
                "training events; `TrainedModel.sample` and `latentsym compare` draw from it."
                if cons.flow_source
                else " The model has no learned prior (flow: -)."
            ),
            "",
            "| constraint | kind | data | null | flow / null | prior / null "
            "| posterior / null | encoded / null |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in cons.residuals:
            lines.append(
                f"| `{r.name}` | {r.kind} | {_fmt(r.data)} | {_fmt(r.null)} | "
                f"{_fmt(r.ratio_flow)} | {_fmt(r.ratio_prior)} | {_fmt(r.ratio_posterior)} | "
                f"{_fmt(r.ratio_encoded)} |"
            )
        enc, flow = cons.max_ratio("exact", "encoded"), cons.max_ratio("exact", "flow")
        if enc is not None:
            lines += [
                "",
                f"Largest exact-constraint decoded / null: encoded data {_fmt(enc)}, flow "
                f"{_fmt(flow)}, N(0, 1) {_fmt(cons.max_ratio('exact', 'prior'))}. The decoded "
                "encoded data bound every prior: where their ratio is not small, the decoder "
                "mean alone does not sit on the constraint surface and no latent prior can "
                "put generated events there.",
            ]
    tan = checks.tangency
    if tan and _given(tan.median):
        lines += [
            "",
            f"Decoder tangency: the fraction of the decoder Jacobian (relevant latents) along "
            f"the exact-constraint gradients is {_fmt(tan.median)} (median), "
            f"{_fmt(tan.p90)} (90th percentile), against {_fmt(tan.random_baseline)} for "
            "a random direction; 0 is perfectly tangent to the constraint surface.",
        ]
    az = checks.azimuthal
    lines += [
        "",
        "## Azimuthal symmetry",
        "",
        f"- events rotated about the beam axis by random angles ({az.n_events} events): "
        f"largest change of the relevance spectrum {_fmt(az.relevance_max_diff)}; "
        f"relevant count {az.n_relevant_original} → {az.n_relevant_transformed}",
        f"- latent displacement under the rotation: {_fmt(az.displacement_top1)} of its "
        f"variance in one direction, {_fmt(az.displacement_top2)} in two",
    ]
    phi = az.phi
    if phi:
        lines.append(
            f"- φ of the {phi.particle} in decoded prior samples against flat: KS "
            f"statistic {_fmt(phi.statistic)}, p = {_fmt(phi.pvalue)} "
            f"(the data: p = {_fmt(phi.data_pvalue)})"
        )
    for tr in checks.transformations:
        lines += [
            "",
            f"Transformation `{tr.transform}` ({tr.n_events} events): largest change of "
            f"the relevance spectrum {_fmt(tr.relevance_max_diff)}, relevant count "
            f"{tr.n_relevant_original} → {tr.n_relevant_transformed}, latent "
            f"displacement {_fmt(tr.displacement_relative)} of the spread of the latents.",
        ]
    return lines


_MODEL_NAMES = {"vae": "VAE", "mechanism-vae": "mechanism VAE"}


def _mechanism_section(m: MechanismCheck | None) -> list[str]:
    if not m:
        return []
    lines = [
        "",
        f"## Latents identified through known mechanisms ({', '.join(m.mechanisms)})",
        "",
        f"Measured on {m.n_events} events, each paired with a transformed copy.",
    ]
    if m.azimuthal_dims:
        dims = ", ".join(f"z{d}" for d in m.azimuthal_dims)
        lines.append(
            f"- the angle of the block ({dims}) follows the azimuth φ of the {m.particle} "
            f"with circular correlation {_fmt(m.circular_correlation)} (1 = exactly, up to "
            f"a constant offset of {_fmt(m.angle_offset)} rad; RMS residual "
            f"{_fmt(m.angle_residual)} rad); it turns with the rotation to within "
            f"{_fmt(m.equivariance_error)} of its radius"
        )
    if m.boost_dim is not None:
        lines.append(
            f"- z{m.boost_dim} shifts by the rapidity change of a longitudinal boost with "
            f"slope {_fmt(m.shift_slope)} (RMS error {_fmt(m.shift_error)}) and follows "
            f"the system rapidity with correlation {_fmt(m.rapidity_correlation)}"
        )
    if _given(m.invariance_error):
        dims = ", ".join(f"z{d}" for d in m.invariance_dims)
        lines.append(
            f"- the other informative latents ({dims}) change by {_fmt(m.invariance_error)} "
            "of their spread under the mechanisms (0 = invariant)"
        )
    else:
        lines.append("- no other latent carries information (all collapsed)")
    return lines


def _resolution_section(summary: RunSummary) -> list[str]:
    res = summary.resolution
    if res is None:
        return []
    lines = [
        "",
        "## Resolution of the approximate constraints",
        "",
        f"The latent dimension is read at the scale {_fmt(res.read_scale)} (GRIDE n1 = "
        f"{res.n1}, n2 = {res.n2}); from the constraints' thickness alone the dimension "
        f"predicted there is **{_fmt(res.predicted)}** (d = {res.d}, d_approx = "
        f"{res.d_approx}). See `dimension_scale.png` for the whole curve.",
        "",
    ]
    lines += [f"- {sentence}" for sentence in res.sentences()]
    return lines


def render_report(summary: RunSummary, figures: Mapping[str, str]) -> str:
    """Markdown text of an analysis summary.

    Args:
        summary: the summary of :func:`latentsym.jobs.run.run_analysis`.
        figures: caption -> PNG file name (relative to the report) to embed.
    """
    inp, feat, model = summary.input, summary.features, summary.model
    exp, verdict = summary.expected, summary.verdict
    lines = [
        "# latentsym report",
        "",
        f"**Verdict: {'consistent' if verdict.consistent else 'not consistent'}.** {verdict.text}",
        "",
        "## Input",
        "",
        f"- files: {', '.join(f'`{p}`' for p in inp.paths)}",
        f"- events read: {inp.n_events_read}, used: {inp.n_events_used} "
        f"(final state `{inp.topology}`)",
    ]
    for why, n in inp.dropped.items():
        lines.append(f"  - dropped {n} {why}")
    if inp.inclusive:
        ignored = ", ".join(f"{n} {name}" for name, n in inp.ignored.items()) or "none"
        lines.append(
            "  - inclusive selection: the highest-energy final-state particle of each named "
            f"id; other final-state particles ignored: {ignored}"
        )
    lines += [
        f"- features: {feat.representation} ({len(feat.names)}): "
        + ", ".join(f"`{n}`" for n in feat.names),
    ]
    if feat.constant:
        lines.append(
            "- constant over the sample (carry no information, kept unscaled): "
            + ", ".join(f"`{n}`" for n in feat.constant)
        )
    lines += [
        "",
        "## Expected dimensions (from the data)",
        "",
        f"- features F = {len(feat.names)}; manifold dimension d = **{exp.manifold_dim}** "
        f"(exact constraints), {exp.manifold_dim_approx} counting approximate ones; "
        f"linear rank r = **{exp.linear_rank}**",
        "",
        "| constraint | kind | relative spread | relative width | thickness | thickness (latent) |",
        "|---|---|---|---|---|---|",
    ]
    curves = summary.dimension_scale
    thick = dict(zip(curves.names, curves.thickness, strict=True)) if curves else {}
    thick_l = dict(zip(curves.names, curves.thickness_latent, strict=True)) if curves else {}
    for c in exp.constraints:
        lines.append(
            f"| `{c.name}` | {c.kind} | {_fmt(c.spread)} | {_fmt(c.width)} | "
            f"{_fmt(thick.get(c.name))} | {_fmt(thick_l.get(c.name))} |"
        )
    lines += [
        "",
        "Thickness: the robust spread (IQR / 1.349) of an approximate constraint over the "
        "norm of its gradient along the exact manifold, in the standardised features the "
        "model sees (median over events), and the same carried into latent units through "
        "the encoder.",
    ]
    lines += _resolution_section(summary)
    rel = summary.relevance
    lines += [
        "",
        "## What the VAE learned",
        "",
        f"- model: {_MODEL_NAMES.get(model.type, model.type)}, latent "
        f"dimension {model.latent_dim}, hidden {list(model.hidden)}, "
        f"beta {model.beta}, seed {model.seed}, {model.epochs_run} epochs",
        f"- relevant directions k = **{summary.n_relevant}** (R ≥ {rel.threshold}); "
        f"gap to the next direction {_fmt(rel.gap)}",
    ]
    if rel.weak:
        lines.append(
            f"- weak directions (between the groups): {', '.join(str(w) for w in rel.weak)}"
        )
    lines.append(
        "- intrinsic dimension of the encoded means on the relevant directions, at the "
        f"model's resolution: **{_fmt(summary.latent_manifold_dim)}**"
    )
    ld = summary.latent_dimension
    if ld:
        lines.append(
            f"  (read with GRIDE at n1 = {ld.n1}, n2 = {ld.n2}, where the median "
            f"distance to the n2-th neighbour reaches the posterior width "
            f"{_fmt(ld.scale)}; TwoNN at the nearest neighbours: "
            f"{_fmt(ld.nearest)})"
        )
    base = summary.baselines
    if base:
        lines.append(
            f"- baselines on the same standardised features: PCA (99 %) {base.pca}, TwoNN "
            f"{_fmt(base.twonn)}, MLE (k = 20) {_fmt(base.mle)} ({base.n_points} events)"
        )
    lines += ["", "| dim | R = 1 − ⟨σ²⟩ | Var(μ) | ⟨KL⟩ |", "|---|---|---|---|"]
    for r in rel.directions:
        lines.append(f"| {r.dim} | {r.R:.3f} | {r.var_mu:.3f} | {r.kl:.3f} |")
    names = summary.latent_names
    if names:
        lines += ["", "Each latent and the observable it follows best (distance correlation):", ""]
        for latent, (obs, dcor) in names.items():
            lines.append(f"- {latent}: `{obs}` ({dcor:.2f})")
    lines += _mechanism_section(summary.mechanism)
    lines += _weights_section(summary.weights)
    lines += _checks_section(summary.checks)
    t = summary.timing
    lines += [
        "",
        f"Timing: read {t.read_s:.1f} s, training {t.train_s:.1f} s "
        f"({t.train_events_per_s or 0.0:.0f} events/s)"
        + (f", flow prior {t.prior_train_s:.1f} s." if t.prior_train_s is not None else ".")
        + (f" Threads: {t.threads.get('reason')}" if t.threads else ""),
        "",
        "## Figures",
        "",
    ]
    for caption, fname in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({fname})", ""]
    return "\n".join(lines)


def render_invariant_report(summary: InvariantSummary) -> str:
    """Markdown text of an invariant/equivariant analysis (``run_invariant``'s summary)."""
    inp, model, m = summary.input, summary.model, summary.invariant
    classes = inp.classes
    lines = [
        "# latentsym report: invariant/equivariant VAE",
        "",
        "## Input",
        "",
        f"- files: {', '.join(f'`{p}`' for p in inp.paths)}",
        "",
        "| class | final state | events |",
        "|---|---|---|",
    ]
    for name, top, n in zip(classes, inp.topologies, inp.n_events_per_class, strict=True):
        lines.append(f"| {name} | `{top}` | {n} |")
    if inp.label_branch:
        lines += ["", f"The class of an event is the value of its branch `{inp.label_branch}`."]
    lines += [
        "",
        f"- {inp.n_train} training events ({inp.n_labelled} with their label, fraction "
        f"{inp.labelled_fraction:g} per class), {inp.n_test} held-out test events",
        f"- features: {summary.features.representation}: "
        + ", ".join(f"`{n}`" for n in summary.features.names),
        f"- model: invariant block of {model.inv_dim} latents, equivariant block of "
        f"{model.eq_dim}, hidden {list(model.hidden)}, beta {model.beta}, "
        f"{model.epochs_run} epochs",
        "",
        "## Numbers on the test events",
        "",
        f"Chance accuracy with {len(classes)} classes: {_fmt(summary.chance_accuracy)}.",
        "",
        "| latents | class accuracy (kNN) | (logistic) | change under rotations about z |",
        "|---|---|---|---|",
    ]
    for label, probe, rot in (
        ("invariant block", m.inv_probe, m.inv_rotation),
        ("equivariant block", m.eq_probe, m.eq_rotation),
    ):
        lines.append(
            f"| {label} | {_fmt(probe.knn.accuracy)} | "
            f"{_fmt(probe.logistic.accuracy)} | {_fmt(rot.relative_change)} |"
        )
    plain = summary.plain
    if plain:
        lines.append(
            f"| plain VAE, all latents | {_fmt(plain.probe.knn.accuracy)} | "
            f"{_fmt(plain.probe.logistic.accuracy)} | "
            f"{_fmt(plain.rotation.relative_change)} |"
        )
    lines += [
        "",
        f"- the encoder's classifier q(y|x): accuracy {_fmt(m.classifier_accuracy)}; its "
        f"prediction is unchanged by a rotation for {_fmt(m.class_kept_under_rotation)} of "
        "the events",
        f"- reconstruction error (mean squared, in units of each feature's spread): "
        f"{_fmt(m.recon_error)}" + (f", plain VAE {_fmt(plain.recon_error)}" if plain else ""),
        "",
        "The invariant block should carry the class (accuracy near 1) and not move under "
        "rotations; the equivariant block should carry where the event sits inside its class "
        "and nothing of the class (accuracy near chance).",
        "",
        "## Figures",
        "",
        "![Latent blocks coloured by class](latents.png)",
        "",
    ]
    return "\n".join(lines)
