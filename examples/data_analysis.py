#!/usr/bin/env python3
"""A data-analysis loop, as an agent runs it: upload a CSV, compute, plot, download the chart.

    AIRLOCK_URL=http://127.0.0.1:8470 AIRLOCK_API_KEY=... python3 examples/data_analysis.py [--csv F] [--out DIR]

Without a CSV it makes one (daily sales of three products). Each step is one tool call an
agent would make; the session keeps the DataFrame between them. No LLM needed.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from pathlib import Path

from airlock import Airlock


def sample_csv(path: Path) -> Path:
    rng = random.Random(7)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["day", "product", "units", "price"])
        for day in range(1, 31):
            for product, base in (("alpha", 20), ("beta", 35), ("gamma", 12)):
                w.writerow([f"2026-11-{day:02d}", product, base + rng.randint(-5, 15), round(9.5 + rng.random(), 2)])
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, help="the data (columns day, product, units, price); default: made up")
    ap.add_argument("--out", type=Path, help="where the charts go; default: a new temporary directory")
    args = ap.parse_args()
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="airlock-example-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    src = args.csv or sample_csv(out_dir / "sales.csv")

    with Airlock() as client, client.sessions.create(metadata={"example": "data-analysis"}) as session:
        session.files.upload(src, "input/sales.csv")
        print("uploaded", src, "->", [e.path for e in session.files.list("input")])

        step = session.run_code(
            "import pandas as pd\n"
            "df = pd.read_csv('input/sales.csv', parse_dates=['day'])\n"
            "df['revenue'] = df.units * df.price\n"
            "summary = df.groupby('product').revenue.agg(['sum', 'mean']).round(2)\n"
            "summary")
        if step.error:  # a failure in the code is data: an agent would read it and retry
            print(step.error.traceback_text, file=sys.stderr)
            return 1
        print(step.text)

        plot = session.run_code(
            "import matplotlib.pyplot as plt\n"
            "daily = df.pivot_table(index='day', columns='product', values='revenue')\n"
            "ax = daily.plot(title='Daily revenue by product')\n"
            "ax.set_ylabel('revenue')\n"
            "plt.savefig('revenue.png', dpi=120)\n"
            "plt.show()",
            on_stdout=lambda text: print(text, end=""))
        for chart in plot.charts:
            print("chart:", chart["type"], chart.get("title"), "-", len(chart.get("elements", [])), "series")
        shown = plot.save_images(out_dir, prefix="shown")
        saved = session.files.download("revenue.png", out_dir / "revenue.png")
        print("images:", *shown, saved)

        best = session.run_code("summary['sum'].idxmax()")
        print("best product:", best.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
