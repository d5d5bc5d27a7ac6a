"""``report.md``: a human-readable account of one analysis, with the figures embedded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_report"]


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def render_report(summary: Mapping[str, Any], figures: Mapping[str, str]) -> str:
    """Markdown text of an analysis summary (the ``summary.json`` dictionary).

    Args:
        summary: the summary dictionary written to ``summary.json``.
        figures: caption -> PNG file name (relative to the report) to embed.
    """
    inp, feat, model = summary["input"], summary["features"], summary["model"]
    exp, verdict = summary["expected"], summary["verdict"]
    lines = [
        "# latentsym report",
        "",
        f"**Verdict: {'consistent' if verdict['consistent'] else 'not consistent'}.** "
        f"{verdict['text']}",
        "",
        "## Input",
        "",
        f"- files: {', '.join(f'`{p}`' for p in inp['paths'])}",
        f"- events read: {inp['n_events_read']}, used: {inp['n_events_used']} "
        f"(final state `{inp['topology']}`)",
    ]
    for why, n in (inp.get("dropped") or {}).items():
        lines.append(f"  - dropped {n} {why}")
    lines += [
        f"- features: {feat['representation']} ({len(feat['names'])}): "
        + ", ".join(f"`{n}`" for n in feat["names"]),
    ]
    if feat.get("constant"):
        lines.append(
            "- constant over the sample (carry no information, kept unscaled): "
            + ", ".join(f"`{n}`" for n in feat["constant"])
        )
    lines += [
        "",
        "## Expected dimensions (from the data)",
        "",
        f"- features F = {len(feat['names'])}; manifold dimension d = **{exp['manifold_dim']}** "
        f"(exact constraints), {exp['manifold_dim_approx']} counting approximate ones; "
        f"linear rank r = **{exp['linear_rank']}**",
        "",
        "| constraint | kind | relative spread |",
        "|---|---|---|",
    ]
    for c in exp["constraints"]:
        lines.append(f"| `{c['name']}` | {c['kind']} | {_fmt(c['spread'])} |")
    lines += [
        "",
        "## What the VAE learned",
        "",
        f"- model: latent dimension {model['latent_dim']}, hidden {model['hidden']}, "
        f"beta {model['beta']}, seed {model['seed']}, {model['epochs_run']} epochs",
        f"- relevant directions k = **{summary['n_relevant']}** (R ≥ {summary['threshold']}); "
        f"gap to the next direction {_fmt(summary.get('gap'))}",
    ]
    weak = summary.get("weak") or []
    if weak:
        lines.append(f"- weak directions (between the groups): {', '.join(str(w) for w in weak)}")
    lines.append(
        f"- intrinsic dimension of the encoded means on the relevant directions (TwoNN): "
        f"**{_fmt(summary['latent_manifold_dim'])}**"
    )
    lines += ["", "| dim | R = 1 − ⟨σ²⟩ | Var(μ) | ⟨KL⟩ |", "|---|---|---|---|"]
    for r in summary["relevance"]:
        lines.append(f"| {r['dim']} | {r['R']:.3f} | {r['var_mu']:.3f} | {r['kl']:.3f} |")
    names = summary.get("latent_names") or {}
    if names:
        lines += ["", "Each relevant latent and the observable it follows best (|Spearman ρ|):", ""]
        for dim, (obs, rho) in names.items():
            lines.append(f"- latent {dim}: `{obs}` ({rho:.2f})")
    t = summary["timing"]
    lines += [
        "",
        f"Timing: read {t['read_s']:.1f} s, training {t['train_s']:.1f} s "
        f"({t['train_events_per_s']:.0f} events/s).",
        "",
        "## Figures",
        "",
    ]
    for caption, fname in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({fname})", ""]
    return "\n".join(lines)
