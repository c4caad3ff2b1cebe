"""Index real document trees nobody here prepared, and report what it cost.

Usage::

    python benchmarks/real_trees.py [--only NAME ...] [--keep]

Fetches Debian's ``debian-handbook`` (HTML, Simplified and Traditional) and
``manpages-zh`` (roff man pages, gzipped) with ``apt-get download`` into
``benchmarks/data/debs/`` (git-ignored, never committed), unpacks them with
``dpkg-deb -x``, indexes each tree with the real ``searchkit index`` command
into a fresh index, and prints one Markdown row per tree: documents, text MB
indexed, wall seconds, peak memory (the largest resident set of the command
and its workers, from the kernel's accounting), index size, and how many
lines it wrote on standard error (warnings). Then it runs a few searches per tree and prints their
hit counts and wall times as a sanity check.

Licences: debian-handbook is GPL-2.0+ or CC-BY-SA-3.0; manpages-zh is
GFDL-1.2+ (see ``usr/share/doc/*/copyright`` in each package).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "debs"

# name -> (Debian package, directories inside the package to index, queries)
TREES = {
    "debian-handbook": ("debian-handbook",
                        ["usr/share/doc/debian-handbook/html/zh-CN",
                         "usr/share/doc/debian-handbook/html/zh-TW"],
                        ["软件包管理", "時區", "邮件服务器", '"apt-get install"', "防火墙 规则"]),
    "manpages-zh": ("manpages-zh", ["usr/share/man/zh_CN", "usr/share/man/zh_TW"],
                    ["列出目录内容", "复制文件", "進程", "网络 接口", "压缩"]),
}


def fetch(package: str) -> Path:
    """The unpacked tree of a Debian package (downloaded once)."""
    target = DATA / package
    if target.is_dir():
        return target
    DATA.mkdir(parents=True, exist_ok=True)
    if not list(DATA.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=DATA, check=True,
                       stdout=subprocess.DEVNULL)
    deb = sorted(DATA.glob(f"{package}_*.deb"))[-1]
    staging = Path(tempfile.mkdtemp(dir=DATA))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
    staging.rename(target)
    return target


def run_searchkit(*args: str) -> tuple[subprocess.CompletedProcess, float, int]:
    """searchkit ARGS as a user runs it: (result, wall seconds, peak RSS in bytes).

    The peak is the kernel's account from wait4: the largest resident set of
    the command or any of its worker processes.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "searchkit", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode,
                                             out.read().decode(), err.read().decode())
    return result, seconds, usage.ru_maxrss * 1024  # KiB on Linux


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(name: str, keep: bool) -> dict:
    package, parts, queries = TREES[name]
    tree = fetch(package)
    roots = [str(tree / part) for part in parts if (tree / part).is_dir()]
    index_dir = Path(tempfile.mkdtemp(prefix=f"searchkit-{name}-"))
    shutil.rmtree(index_dir)
    result, seconds, peak = run_searchkit("index", *roots, "--index", str(index_dir))
    if result.returncode != 0:
        raise SystemExit(f"{name}: searchkit index failed:\n{result.stderr}")
    lines = result.stdout.strip().splitlines()
    summary = next((line for line in lines if " added, " in line), lines[-1])
    found = re.search(r"(\d+) added.*?([\d.]+) MB", summary)
    row = {
        "tree": name, "documents": int(found.group(1)) if found else None,
        "text_mb": float(found.group(2)) if found else None, "seconds": round(seconds, 2),
        "peak_mb": round(peak / 1e6), "index_mb": round(directory_bytes(index_dir) / 1e6, 1),
        "summary": " / ".join(lines), "warnings": len(result.stderr.strip().splitlines()),
        "searches": [],
    }
    for query in queries:
        answer, wall, _ = run_searchkit("search", query, "--index", str(index_dir), "--json")
        total = json.loads(answer.stdout)["total"] if answer.returncode == 0 else answer.stderr.strip()
        row["searches"].append({"query": query, "total": total, "seconds": round(wall, 2)})
    if not keep:
        shutil.rmtree(index_dir, ignore_errors=True)
    else:
        row["index"] = str(index_dir)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(TREES), help="trees to index (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the indexes and print where")
    args = parser.parse_args()
    rows = [measure(name, args.keep) for name in (args.only or TREES)]
    print("| tree | documents | text MB | seconds | peak MB | index MB | stderr lines |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['tree']} | {row['documents']} | {row['text_mb']} | {row['seconds']} | "
              f"{row['peak_mb']} | {row['index_mb']} | {row['warnings']} |")
    print()
    for row in rows:
        print(f"{row['tree']}: {row['summary']}" + (f" (index kept at {row['index']})" if "index" in row else ""))
        for search in row["searches"]:
            print(f"  {search['query']}: {search['total']} hits, {search['seconds']} s one-shot")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
