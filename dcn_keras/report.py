"""The comparison table (paper Table 1) as Markdown and JSON."""

from __future__ import annotations

from dcn_keras.training import TITLES


def table_rows(errors: dict, multiplications: dict, throughput: dict) -> list[dict]:
    """One row per trained model, in the paper's order."""
    return [{"model": TITLES[kind], "kind": kind, "test_error": errors[kind],
             "multiplications": multiplications[kind], "images_per_second": throughput[kind]}
            for kind in TITLES if kind in errors]


def markdown(rows: list[dict], data: str, machine: str, batch_size: int) -> str:
    lines = [
        "| Model | Test error | Multiplications | Images/s (batch %d) |" % batch_size,
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {100 * row['test_error']:.2f}% | "
                     f"{row['multiplications'] / 1e6:.1f}M | {row['images_per_second']:,.0f} |")
    lines += ["", f"Data: {data}", f"Machine: {machine}"]
    return "\n".join(lines) + "\n"


def error_versus_patches_markdown(curves: dict[str, dict[int, float]]) -> str:
    ks = sorted(next(iter(curves.values())))
    lines = ["| k | " + " | ".join(curves) + " |", "|---:|" + "---:|" * len(curves)]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{100 * c[k]:.2f}%" for c in curves.values())
                     + " |")
    return "\n".join(lines) + "\n"
