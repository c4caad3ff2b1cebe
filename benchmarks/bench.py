"""searchkit vs the naive stack (``naive.py``), side by side, in one run.

Usage::

    python benchmarks/bench.py [--docs 20000] [--sizes 10000,100000,all]
                               [--naive-sizes N,...] [--repeat 1] [--workers N]
                               [--skip-scaling] [--quick]

Measures, on prefixes of ``data/poetry.jsonl`` (run ``corpus.py`` first):

1. indexing throughput (MB of input text/s, docs/s), wall time, peak memory
   and index size, one fresh subprocess per run, searchkit and naive alternating;
2. in-process query latency (median, p95, zero-hit queries) over the query
   set, each engine in its own fresh process;
3. one-shot wall time of the command-line search, on the seed corpus and on
   the subset indexes of step 1;
4. scaling: searchkit (and, at the smallest size, naive) indexing time and
   index size at several corpus sizes.

Prints a Markdown report and writes ``results/latest.json`` and
``results/latest.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import inspect
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import DATA_DIR, DEFAULT_OUT, iter_jsonl, make_queries  # noqa: E402

RESULTS_DIR = HERE / "results"
WORK_DIR = DATA_DIR / "bench"  # indexes and the seeds JSONL; git-ignored like all of data/
SEEDS_DIR = REPO / "seeds"
NAIVE = HERE / "naive.py"
SEEDS_QUERY = "数据中心"  # the README's example query
SUBSET_QUERY = "長安"  # naive README's one-shot example (Traditional script)
ONE_SHOT_RUNS = 5
N_QUERIES = 300
LATENCY_WORKER = "latency-worker"  # hidden sub-command: query latency of one engine
MEASURE_WORKER = "measure"  # hidden sub-command: run a command, report its resource use
PACKAGES = ("searchkit", "whoosh", "jieba", "opencc-python-reimplemented")
PSS_SAMPLE_S = 0.2  # how often the measure worker samples the process tree's memory


def log(message: str) -> None:
    """Progress to stderr, so that stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Running and measuring subprocesses
# --------------------------------------------------------------------------


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process; return wall time, memory (MB), CPU time and output.

    The command runs under a small wrapper process (``bench.py measure``), so
    that ``RUSAGE_CHILDREN`` there covers this one command and nothing else.
    """
    wrapped = subprocess.run([sys.executable, __file__, MEASURE_WORKER, *map(str, cmd)],
                             capture_output=True, text=True, check=True)
    result = json.loads(wrapped.stdout)
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{result['stderr']}")
    return result


def measure_worker(cmd: list[str]) -> None:
    """``bench.py measure CMD...``: run CMD, print its resource use as JSON.

    ``max_rss_mb`` is ru_maxrss over CMD and its descendants, i.e. the
    largest single process; ``peak_tree_pss_mb`` is the peak of the summed
    proportional set size of CMD and all its descendants, sampled every
    ``PSS_SAMPLE_S`` seconds, which is what matters once indexing forks workers.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_pss, stop = [0.0], threading.Event()

    def sample() -> None:
        while not stop.wait(PSS_SAMPLE_S):
            peak_pss[0] = max(peak_pss[0], tree_pss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "returncode": proc.returncode, "wall_s": wall,
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "peak_tree_pss_mb": round(peak_pss[0], 1) or None,  # None: ended before the first sample
        "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "stdout": stdout, "stderr": stderr,
    }))


def tree_pss_mb(root: int) -> float:
    """Summed proportional set size of ``root`` and its descendants now, in MB (Linux)."""
    total_kb, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total_kb += int(rollup.split("\nPss:")[1].split()[0])
            for task in Path(f"/proc/{pid}/task").iterdir():
                frontier += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
    return total_kb / 1024


def searchkit_cmd() -> list[str]:
    """The ``searchkit`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("searchkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "searchkit"]


def naive_cmd(*args: object) -> list[str]:
    """A ``naive.py`` sub-command."""
    return [sys.executable, str(NAIVE), *map(str, args)]


def dir_size_mb(path: Path) -> float:
    """Total size of the files under ``path`` (recursively), in MB."""
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def fresh_dir(path: Path) -> Path:
    """Remove ``path`` if it exists so that every build starts from nothing."""
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------
# searchkit's optional parallel indexing
# --------------------------------------------------------------------------


def build_workers_option() -> dict:
    """Whether ``SearchIndex.build`` and ``searchkit index`` take ``workers``."""
    from searchkit import SearchIndex

    param = inspect.signature(SearchIndex.build).parameters.get("workers")
    help_text = subprocess.run([*searchkit_cmd(), "index", "--help"],
                               capture_output=True, text=True).stdout
    return {
        "api": param is not None,
        "api_default": None if param is None or param.default is inspect.Parameter.empty
        else repr(param.default),
        "cli": "--workers" in help_text,
    }


def searchkit_index_cmd(jsonl: Path, index_dir: Path, workers: int | None, option: dict) -> list[str]:
    """The searchkit indexing command: ``searchkit index ... --rebuild``.

    With ``workers``, pass it on the command line if the CLI takes it, else
    call ``SearchIndex.build(..., workers=N)`` from a tiny Python script.
    """
    if workers is None or option["cli"]:
        extra = [] if workers is None else ["--workers", str(workers)]
        return [*searchkit_cmd(), "index", str(jsonl), "--index", str(index_dir), "--rebuild", *extra]
    if not option["api"]:
        raise SystemExit("--workers: this searchkit's SearchIndex.build has no workers option")
    script = ("import sys; from searchkit import SearchIndex; "
              "print(SearchIndex.build(sys.argv[1], [sys.argv[2]], rebuild=True, workers=int(sys.argv[3])))")
    return [sys.executable, "-c", script, str(index_dir), str(jsonl), str(workers)]


# --------------------------------------------------------------------------
# Corpus subsets and queries
# --------------------------------------------------------------------------


def text_mb(doc: dict) -> float:
    """Input size of one doc as naive.py counts it: UTF-8 bytes of title + text."""
    return (len((doc.get("title") or "").encode("utf-8")) + len(doc["text"].encode("utf-8"))) / 1e6


def count_lines(path: Path) -> int:
    """Number of lines (docs) in a JSONL file."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def write_subset(n: int, total: int) -> dict:
    """Write the first ``n`` docs to ``data/subset-N.jsonl`` (the whole corpus is used as is)."""
    path = DEFAULT_OUT if n >= total else DATA_DIR / f"subset-{n}.jsonl"
    mb = 0.0
    out = None if path == DEFAULT_OUT else path.open("w", encoding="utf-8")
    try:
        for doc in iter_jsonl(DEFAULT_OUT, min(n, total)):
            mb += text_mb(doc)
            if out:
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    finally:
        if out:
            out.close()
    return {"path": path, "docs": min(n, total), "mb": round(mb, 3)}


def query_file(n: int) -> Path:
    """``data/queries-N.txt``: the query set sampled from the first ``n`` docs (cached).

    Same generator and seed as ``corpus.py``, so for n=20000 it is identical
    to ``data/queries.txt``.
    """
    path = DATA_DIR / f"queries-{n}.txt"
    if not path.exists():
        log(f"sampling {N_QUERIES} queries from the first {n} docs -> {path.name}")
        queries = make_queries(DEFAULT_OUT, n=N_QUERIES, seed=1, limit=n)
        path.write_text("\n".join(queries) + "\n", encoding="utf-8")
    return path


def parse_sizes(text: str, total: int) -> list[int]:
    """'10000,100000,all' -> sorted distinct doc counts, capped at the corpus size."""
    sizes = {total if part.strip() == "all" else min(int(part), total)
             for part in text.split(",") if part.strip()}
    return sorted(sizes)


# --------------------------------------------------------------------------
# 1. Indexing
# --------------------------------------------------------------------------


def index_run(system: str, subset: dict, index_dir: Path, workers: int | None, option: dict) -> dict:
    """Build one index from scratch in a fresh process and measure it."""
    fresh_dir(index_dir)
    if system == "searchkit":
        cmd = searchkit_index_cmd(subset["path"], index_dir, workers, option)
    else:
        cmd = naive_cmd("index", subset["path"], index_dir)
    run = measure(cmd)
    wall = run["wall_s"]
    result = {
        "wall_s": round(wall, 2),
        "docs_per_s": round(subset["docs"] / wall, 1),
        "mb_per_s": round(subset["mb"] / wall, 4),
        "peak_rss_mb": run["max_rss_mb"],
        "peak_tree_pss_mb": run["peak_tree_pss_mb"],
        "cpu_s": round(run["user_s"] + run["sys_s"], 2),
        "index_mb": dir_size_mb(index_dir),
    }
    if system == "naive":  # naive.py's own timing, without interpreter start-up
        result["internal_s"] = json.loads(run["stdout"])["seconds"]
    else:
        result["report"] = run["stdout"].strip().splitlines()[-1] if run["stdout"].strip() else ""
    return result


def median_runs(runs: list[dict]) -> dict:
    """Per-key medians of numeric measurements over repeated runs."""
    merged = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            merged[key] = round(statistics.median(r[key] for r in runs), 4)
        else:
            merged[key] = value
    merged["runs"] = len(runs)
    return merged


def bench_indexing(subset: dict, repeat: int, workers: int | None, option: dict) -> dict:
    """Alternating searchkit/naive index builds of ``subset``; medians over ``repeat`` rounds."""
    runs: dict[str, list[dict]] = {"searchkit": [], "naive": []}
    for round_no in range(1, repeat + 1):
        for system in runs:
            log(f"indexing {subset['docs']} docs with {system} (round {round_no}/{repeat})")
            runs[system].append(index_run(system, subset, index_dirs(subset["docs"])[system], workers, option))
    return {system: median_runs(results) for system, results in runs.items()}


def index_dirs(docs: int) -> dict[str, Path]:
    """Where the two indexes of a ``docs``-sized subset live."""
    return {"searchkit": WORK_DIR / f"searchkit-{docs}", "naive": WORK_DIR / f"naive-{docs}"}


# --------------------------------------------------------------------------
# 2. Query latency (in a fresh process per engine)
# --------------------------------------------------------------------------


def searchkit_runner(index_dir: Path) -> tuple[Callable[[str], int], Callable[[], None]]:
    """One searchkit query (``search(q, limit=10)``, snippets included) -> total hits."""
    from searchkit import SearchIndex, SearchkitError

    index = SearchIndex.open(index_dir)

    def run(text: str) -> int:
        try:
            return index.search(text, limit=10).total
        except SearchkitError:  # a query the language rejects counts as zero hits
            return 0

    return run, index.close


def latency_worker(argv: list[str]) -> None:
    """``bench.py latency-worker {searchkit,naive} INDEX QUERIES``: print latency JSON."""
    system, index_dir, queries_path = argv
    import naive  # its timing loop (warm-up pass, nearest-rank p95) is used for both sides

    queries = [q.strip() for q in Path(queries_path).read_text(encoding="utf-8").splitlines() if q.strip()]
    report: dict = {"queries": len(queries)}
    if system == "searchkit":
        run, close = searchkit_runner(Path(index_dir))
        report["search"] = naive.time_queries(run, queries)
        close()
    else:
        ix = naive.index.open_dir(index_dir)
        cc = naive.OpenCC("t2s")
        parsers = {"and": naive.QueryParser("content", ix.schema),
                   "or": naive.QueryParser("content", ix.schema, group=naive.OrGroup)}
        with ix.searcher() as searcher:
            for name, parser in parsers.items():
                report[name] = naive.time_queries(naive.make_runner(searcher, parser, cc), queries)
                report[f"{name}_highlights"] = naive.time_queries(
                    naive.make_runner(searcher, parser, cc, highlight=True), queries)
    print(json.dumps(report))


def bench_latency(docs: int, queries: Path) -> dict:
    """Query latency of both engines on the ``docs``-sized indexes."""
    report = {}
    for system, index_dir in index_dirs(docs).items():
        log(f"query latency, {system}")
        out = subprocess.run([sys.executable, __file__, LATENCY_WORKER, system, str(index_dir), str(queries)],
                             capture_output=True, text=True, check=True).stdout
        report[system] = json.loads(out)
    return report


# --------------------------------------------------------------------------
# 3. One-shot wall time
# --------------------------------------------------------------------------


def seeds_jsonl(searchkit_index: Path) -> Path:
    """The seed documents as searchkit extracted them, as JSONL for naive.py.

    Both engines then index the same cleaned text; a seed that cannot be
    looked up by its file name falls back to its raw text.
    """
    from searchkit import SearchIndex

    path = WORK_DIR / "seeds.jsonl"
    with SearchIndex.open(searchkit_index) as index, path.open("w", encoding="utf-8") as out:
        for file in sorted(SEEDS_DIR.iterdir()):
            if file.suffix == ".toml" or file.name.startswith("."):
                continue
            try:
                doc = index.document(file.name)
                record = {"id": doc.id, "title": doc.title, "text": doc.original}
            except KeyError:
                record = {"id": file.name, "title": file.stem,
                          "text": file.read_text(encoding="utf-8", errors="replace")}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def build_seed_indexes() -> dict[str, Path]:
    """Index ``seeds/`` with searchkit, and the same documents with naive.py."""
    dirs = {"searchkit": fresh_dir(WORK_DIR / "searchkit-seeds"), "naive": fresh_dir(WORK_DIR / "naive-seeds")}
    log("indexing seeds/ with both engines")
    measure([*searchkit_cmd(), "index", SEEDS_DIR, "--index", dirs["searchkit"], "--rebuild"])
    measure(naive_cmd("index", seeds_jsonl(dirs["searchkit"]), dirs["naive"]))
    return dirs


def bench_one_shot(label: str, dirs: dict[str, Path], query: str, runs: int = ONE_SHOT_RUNS) -> dict:
    """Median wall time of ``runs`` alternating one-shot searches per engine."""
    commands = {"searchkit": [*searchkit_cmd(), "search", query, "--index", dirs["searchkit"]],
                "naive": naive_cmd("query", dirs["naive"], query)}
    walls: dict[str, list[float]] = {system: [] for system in commands}
    rss: dict[str, list[float]] = {system: [] for system in commands}
    log(f"one-shot search {query!r} on {label}, {runs} alternating runs each")
    for _ in range(runs):
        for system, cmd in commands.items():
            run = measure(cmd)
            walls[system].append(run["wall_s"])
            rss[system].append(run["max_rss_mb"])
    result = {"query": query, "runs": runs}
    for system in commands:
        result[system] = {"median_s": round(statistics.median(walls[system]), 3),
                          "min_s": round(min(walls[system]), 3),
                          "peak_rss_mb": statistics.median(rss[system])}
    result["ratio"] = ratio(result["searchkit"]["median_s"], result["naive"]["median_s"])
    return result


# --------------------------------------------------------------------------
# 4. Scaling
# --------------------------------------------------------------------------


def bench_scaling(sizes: list[int], naive_sizes: list[int], total: int, workers: int | None,
                  option: dict, done: dict) -> list[dict]:
    """Index time and size per corpus size; reuses step 1's results at its size.

    The scaling indexes are deleted once measured (the largest ones are big).
    """
    rows = []
    for n in sorted(set(sizes) | set(naive_sizes)):
        subset = write_subset(n, total)
        row = {"docs": subset["docs"], "mb": subset["mb"]}
        for system, wanted in (("searchkit", sizes), ("naive", naive_sizes)):
            if n not in wanted:
                continue
            if n == done.get("docs"):
                row[system] = done[system]
                continue
            log(f"scaling: {n} docs with {system}")
            index_dir = WORK_DIR / f"scaling-{system}-{n}"
            row[system] = index_run(system, subset, index_dir, workers, option)
            shutil.rmtree(index_dir, ignore_errors=True)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# Machine information
# --------------------------------------------------------------------------


def machine_info(option: dict) -> dict:
    """CPU, memory, Python, package versions and the git commit measured."""
    info = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "mem_total_gb": _mem_total_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "searchkit_workers_option": option,
    }
    info.update(_git_state())
    return info


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_total_gb() -> float | None:
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        return round(kib / 1024**2, 1)
    except (OSError, IndexError, ValueError):
        return None


def _git_state() -> dict:
    """Commit and whether tracked files differ from it (read-only git commands)."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {}
    return {"git_commit": head.stdout.strip(),
            "git_dirty": git("diff-index", "--quiet", "HEAD", "--").returncode != 0}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when undefined."""
    return round(a / b, 2) if a is not None and b else None


def fmt(value, digits: int = 2) -> str:
    """A table cell: numbers with ``digits`` decimals (thousands separated), '–' for None."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table (first column left-aligned, the others right-aligned)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return lines


def indexing_section(subset: dict, result: dict) -> list[str]:
    """Step 1 as a table: searchkit, naive, ratio."""
    sk, nv = result["searchkit"], result["naive"]
    measures = (("docs/s", "docs_per_s", 1), ("MB/s (input text)", "mb_per_s", 3),
                ("wall time (s)", "wall_s", 2), ("CPU time (s, user+sys)", "cpu_s", 2),
                ("peak RSS, largest process (MB)", "peak_rss_mb", 1),
                ("peak PSS, all processes (MB, sampled)", "peak_tree_pss_mb", 1),
                ("index size (MB)", "index_mb", 1))
    rows = [[label, fmt(sk[key], digits), fmt(nv[key], digits), ratio(sk[key], nv[key])]
            for label, key, digits in measures]
    return [f"### 1. Indexing {subset['docs']:,} docs ({subset['mb']:.2f} MB of text), "
            f"median of {sk['runs']} run(s)", "",
            *table(["", "searchkit", "naive", "searchkit/naive"], rows), "",
            "Wall time of the whole command (interpreter start-up included) in a fresh process; "
            f"naive.py's own in-process timing: {nv.get('internal_s')} s.", ""]


def latency_section(result: dict) -> list[str]:
    """Step 2 as a table: one row per variant, ratio of searchkit's median to each."""
    sk = result["searchkit"]["search"]
    naive = result["naive"]
    variants = [("searchkit `search(q, limit=10)` (AND, partial fallback, snippets)", sk),
                ("naive AND", naive["and"]), ("naive AND + highlights", naive["and_highlights"]),
                ("naive OR", naive["or"]), ("naive OR + highlights", naive["or_highlights"])]
    rows = [[label, v["median_ms"], v["p95_ms"], v["zero_hit_queries"],
             ratio(sk["median_ms"], v["median_ms"]) if v is not sk else None]
            for label, v in variants]
    return [f"### 2. Query latency, {result['searchkit']['queries']} queries, in-process "
            "(after a warm-up pass)", "",
            *table(["", "median ms", "p95 ms", "zero hits", "searchkit/this (median)"], rows), "",
            "searchkit's times include building highlighted snippets for every hit; "
            "\"+ highlights\" adds `hit.highlights(\"content\")` per hit on the naive side.", ""]


def one_shot_section(results: list[tuple[str, dict]]) -> list[str]:
    """Step 3 as a table: one row per corpus."""
    rows = [[f"{label}, `{r['query']}`", r["searchkit"]["median_s"], r["naive"]["median_s"], r["ratio"],
             fmt(r["searchkit"]["peak_rss_mb"], 1), fmt(r["naive"]["peak_rss_mb"], 1)] for label, r in results]
    runs = results[0][1]["runs"] if results else ONE_SHOT_RUNS
    return [f"### 3. One-shot search wall time, median of {runs} alternating runs", "",
            *table(["index, query", "searchkit s", "naive s", "searchkit/naive",
                    "searchkit RSS MB", "naive RSS MB"], rows), ""]


def scaling_section(rows: list[dict]) -> list[str]:
    """Step 4 as a table: one row per size."""
    def cells(entry: dict | None) -> list:
        if entry is None:
            return [None] * 4
        return [fmt(entry["wall_s"], 2), fmt(entry["docs_per_s"], 1),
                fmt(entry["peak_tree_pss_mb"], 1), fmt(entry["index_mb"], 1)]

    body = [[row["docs"], row["mb"], *cells(row.get("searchkit")), *cells(row.get("naive"))] for row in rows]
    return ["### 4. Scaling (one run per size)", "",
            *table(["docs", "text MB", "searchkit s", "docs/s", "PSS MB", "index MB",
                    "naive s", "docs/s", "PSS MB", "index MB"], body), "",
            "PSS MB: peak summed memory of all the command's processes (sampled).", ""]


def render(report: dict) -> str:
    """The whole Markdown report."""
    m = report["machine"]
    lines = [f"## searchkit vs naive stack — {m['date']}", "",
             f"{m['cpu_count']} CPUs ({m['cpu_model']}), {m['mem_total_gb']} GB RAM, Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
             + f"; commit {m.get('git_commit', '?')[:10]}{' (dirty)' if m.get('git_dirty') else ''}; "
             f"searchkit workers: {report['workers'] or 'default'}", ""]
    lines += indexing_section(report["subset"], report["indexing"])
    lines += latency_section(report["latency"])
    lines += one_shot_section([(label, report["one_shot"][key]) for key, label in
                               (("seeds", "seeds/ (5 docs)"), ("subset", f"subset ({report['subset']['docs']:,} docs)"))])
    if report.get("scaling"):
        lines += scaling_section(report["scaling"])
    return "\n".join(lines)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20000, help="subset size for steps 1-3 (20000)")
    parser.add_argument("--sizes", default="10000,100000,all", help="searchkit scaling sizes ('all' = whole corpus)")
    parser.add_argument("--naive-sizes", help="naive scaling sizes (default: the smallest of --sizes)")
    parser.add_argument("--repeat", type=int, default=1, help="alternating index builds per engine (medians)")
    parser.add_argument("--workers", type=int, help="searchkit indexing workers, if searchkit supports it")
    parser.add_argument("--skip-scaling", action="store_true", help="skip step 4")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2000 docs, sizes 1000,2000")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json", help="JSON output")
    args = parser.parse_args(argv)
    if args.quick:
        args.docs, args.sizes = 2000, "1000,2000"
    return args


def run_benchmark(args: argparse.Namespace) -> dict:
    """All four steps; returns the report dictionary."""
    if not DEFAULT_OUT.exists():
        raise SystemExit(f"no corpus at {DEFAULT_OUT}: run benchmarks/corpus.py first")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    option = build_workers_option()
    total = count_lines(DEFAULT_OUT)
    subset = write_subset(args.docs, total)
    queries = query_file(subset["docs"])
    report = {"machine": machine_info(option), "workers": args.workers,
              "subset": {**subset, "path": str(subset["path"].relative_to(REPO)), "queries": str(queries.relative_to(REPO))}}
    report["indexing"] = bench_indexing(subset, args.repeat, args.workers, option)
    report["latency"] = bench_latency(subset["docs"], queries)
    report["one_shot"] = {"seeds": bench_one_shot("seeds", build_seed_indexes(), SEEDS_QUERY),
                          "subset": bench_one_shot("subset", index_dirs(subset["docs"]), SUBSET_QUERY)}
    if not args.skip_scaling:
        sizes = parse_sizes(args.sizes, total)
        naive_sizes = parse_sizes(args.naive_sizes, total) if args.naive_sizes else sizes[:1]
        done = {"docs": subset["docs"], **report["indexing"]}
        report["scaling"] = bench_scaling(sizes, naive_sizes, total, args.workers, option, done)
    return report


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or, internally, one latency worker)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [MEASURE_WORKER]:
        return measure_worker(argv[1:])
    if argv[:1] == [LATENCY_WORKER]:
        return latency_worker(argv[1:])
    args = parse_args(argv)
    started = time.perf_counter()
    report = run_benchmark(args)
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out, report, render(report))
    log(f"done in {report['bench_seconds']} s")


def write_report(out: Path, report: dict, markdown: str) -> None:
    """Write a report as JSON at out and as Markdown beside it; print the Markdown."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
