"""The steps of `airlock runtimes build`, run inside its bubblewrap sandbox as the builder uid.

argv: CONFIG.json DEST. DEST (/opt/airlock/runtimes/NAME/vN) is the only writable place
besides /tmp; it is the path sessions will see, so the venv's paths and the scripts'
shebangs are right there. The CLI validated the config; this script only runs the
well-kept tools (venv, pip, npm), printing what it runs, and leaves DEST/.airlock-build.json
(versions, what got installed, the import names each package provides) for the manifest.
A failing step exits non-zero; the CLI reads pip's or npm's own words from the log to name
the package. Standard library only: it runs on the host's python3.
"""

import json
import subprocess
import sys
from pathlib import Path


def step(name: str, argv: list[str], cwd: str | None = None) -> None:
    print(f"airlock-build: {name}: {' '.join(argv)}", flush=True)
    code = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        print(f"airlock-build: step {name} failed (exit {code})", flush=True)
        sys.exit(3)


def output(argv: list[str], cwd: str | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True).stdout


def import_names(site: Path) -> dict[str, str]:
    """{import name: distribution} for every distribution installed in the venv itself."""
    names: dict[str, str] = {}
    for info in sorted(site.glob("*.dist-info")):
        dist = info.name[: -len(".dist-info")].rsplit("-", 1)[0]
        meta = info / "METADATA"
        if meta.exists():
            for line in meta.read_text(errors="replace").splitlines():
                if line.startswith("Name:"):
                    dist = line.split(":", 1)[1].strip()
                    break
        tops: set[str] = set()
        top_level = info / "top_level.txt"
        if top_level.exists():
            tops.update(t.strip() for t in top_level.read_text().splitlines() if t.strip())
        record = info / "RECORD"
        if not tops and record.exists():
            for row in record.read_text(errors="replace").splitlines():
                first = row.split(",", 1)[0].split("/", 1)[0]
                if first.endswith(".py"):
                    first = first[:-3]
                if (
                    first
                    and not first.endswith((".dist-info", ".data", ".pth", ".libs"))
                    and first.isidentifier()
                    and first != "__pycache__"
                ):
                    tops.add(first)
        if dist.lower() in {"pip", "setuptools", "wheel"}:
            continue  # the venv's own tools, not what the config asked for
        for top in tops:
            if top.isidentifier() and not top.startswith("_") and top != "debian":
                names.setdefault(top, dist)
    return names


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    dest = Path(sys.argv[2])
    venv = dest / "venv"
    step("venv", [sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python = str(venv / "bin" / "python3")
    packages = config.get("packages", [])
    if packages:
        argv = [python, "-m", "pip", "install", "--no-input", "--no-cache-dir", "--progress-bar", "off"]
        if config.get("index_url"):
            argv += ["--index-url", config["index_url"]]
        for url in config.get("extra_index_urls", []):
            argv += ["--extra-index-url", url]
        step("pip", argv + packages)
    report: dict[str, object] = {
        "python_version": output([python, "-c", "import platform; print(platform.python_version())"]).strip(),
        "freeze": [ln for ln in output([python, "-m", "pip", "freeze", "--local"]).splitlines() if ln.strip()],
    }
    site = Path(
        output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    )
    report["import_names"] = import_names(site)
    npm_packages = config.get("npm_packages", [])
    if npm_packages:
        node = dest / "node"
        node.mkdir()
        (node / "package.json").write_text(
            json.dumps({"name": "airlock-runtime", "private": True, "description": "an Airlock runtime"}) + "\n"
        )
        step(
            "npm",
            ["/usr/bin/npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--save", *npm_packages],
            cwd=str(node),
        )
        listing = output(["/usr/bin/npm", "ls", "--json", "--depth=0"], cwd=str(node))
        deps = json.loads(listing or "{}").get("dependencies", {})
        report["npm"] = {name: str(info.get("version", "")) for name, info in deps.items()}
        report["node_version"] = output(["/usr/bin/node", "--version"]).strip()
    (dest / ".airlock-build.json").write_text(json.dumps(report))
    print("airlock-build: done", flush=True)


if __name__ == "__main__":
    main()
