"""Search quality: searchkit and its baselines on judged query sets, in one table.

Usage::

    python benchmarks/quality/run.py [--systems searchkit,whoosh-or,...] [--sets man-s,...]
                                     [--limit N] [--seed 1] [--json OUT] [--dump SYSTEM]
                                     [--markdown] [--rebuild] [--snippets] [--jobs N]
                                     [--baselines-from JSON]
                                     [--index-cache DIR]
                                     [--cache DIR] [--tree-root DIR] [--debs DIR] [--poetry PATH]

Gets the data (``fetch.py``; the source options are passed on to it, and a previous fetch
is reused), builds the query sets (``sets.py``: how each is made is told there), builds
each system's index of each corpus (``systems.py``: every system and how it is set up),
runs every query (100 hits asked; ``--jobs`` processes, one per core by default, each
opening the index itself) and prints one table: for each set, nDCG@10, MRR@10 and
Recall@100 of every system (computed by ir-measures, ``metrics.py``), and searchkit's
nDCG@10 as a ratio to the best baseline's.

Indexes are kept under ``--index-cache`` (default ``benchmarks/data/quality/indexes``,
git-ignored), one directory per system, corpus (and its path) and fingerprint: searchkit's is a hash of
its sources that shape an index (any module but the query-time ones listed in
``systems.QUERY_TIME``), a baseline's is its build function, library versions and
searchkit's loaders. A changed fingerprint builds a new index and deletes the old one;
``--rebuild`` rebuilds the chosen systems' indexes anyway. Built query sets are cached in
``--cache`` the same way. ``--limit N`` runs a seeded sample of N queries per set (a quick
run); ``--json OUT`` writes the results with each query's rank of its relevant document;
``--dump SYSTEM`` prints, per query, the rank of its relevant document (``-``: not in the
100) and the top 3 ids; ``--markdown`` prints the table in Markdown (the README's).
``--baselines-from JSON`` fills in the systems not run from an earlier ``--json`` report, so
``--systems searchkit --baselines-from results/quality.json`` measures a ranking change
against the baselines in the time searchkit alone takes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import fetch  # noqa: E402
import metrics  # noqa: E402
import sets as query_sets  # noqa: E402
import systems as sysmod  # noqa: E402

DEFAULT_INDEX_CACHE = fetch.DEFAULT_CACHE / "indexes"
COMPLETE = ".complete"


def log(message: str) -> None:
    """Progress to standard error, so that standard output holds only the report."""
    print(f"[quality] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Query sets (cached)
# --------------------------------------------------------------------------


def sets_fingerprint(corpora: dict[str, str]) -> str:
    """What the query sets depend on: their builders, corpus.py's query makers, the loaders."""
    files = [HERE / "sets.py", HERE.parent / "corpus.py"]
    return sysmod.digest(files, json.dumps(corpora, sort_keys=True), sysmod.loader_fingerprint())


def load_sets(corpora: dict[str, str], cache: Path, keys: list[str]) -> list[query_sets.QuerySet]:
    """The sets named by keys, from the cache when built with the same code and data."""
    path = cache / f"sets-{sets_fingerprint(corpora)}.json"
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
    else:
        log("building the query sets")
        built = query_sets.build_sets(corpora, query_sets.SET_KEYS)
        stored = {s.key: asdict(s) for s in built}
        for old in cache.glob("sets-*.json"):
            old.unlink()
        path.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    made = []
    for key in keys:
        record = stored[key]
        queries = [query_sets.Query(q["qid"], q["text"], tuple(q["relevant"])) for q in record["queries"]]
        made.append(query_sets.QuerySet(key, record["label"], record["corpus"], queries, record["dropped"]))
    return made


# --------------------------------------------------------------------------
# Indexes
# --------------------------------------------------------------------------


def ensure_index(system: sysmod.System, fingerprint: str, corpus: sysmod.Corpus, root: Path,
                 rebuild: bool) -> tuple[Path, float | None]:
    """The system's index of the corpus, built if missing (returns it and the build seconds, if built)."""
    parent = root / system.index_kind / corpus.name
    index_dir = parent / sysmod.digest([], fingerprint, str(corpus.source.resolve()))
    if (index_dir / COMPLETE).is_file() and not rebuild:
        return index_dir, None
    if parent.is_dir():
        shutil.rmtree(parent)  # older fingerprints too: one index per system and corpus
    index_dir.mkdir(parents=True)
    log(f"building {system.index_kind} index of {corpus.name}")
    started = time.perf_counter()
    system.build(corpus, index_dir)
    seconds = time.perf_counter() - started
    (index_dir / COMPLETE).write_text(f"{seconds:.1f}\n", encoding="utf-8")
    return index_dir, seconds


def available(system: sysmod.System) -> bool:
    """Whether the system can run here (a missing one is skipped with one line)."""
    if system.key == "fts5":
        try:
            sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
            return True
        except sqlite3.Error:
            log("fts5 skipped: this SQLite has no trigram tokenizer (needs 3.34 or newer)")
            return False
    if importlib.util.find_spec(system.requires) is None:
        log(f"{system.key} skipped: {system.requires} is not installed ({system.pip})")
        return False
    return True


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


@dataclass
class SystemResult:
    """One system on one set."""

    means: dict[str, float]
    ranks: dict[str, int | None]  # query id -> rank of its relevant document
    top: dict[str, list[str]]  # query id -> first 3 ids
    no_hits: int
    errors: int
    seconds: float
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)


def search_part(job: tuple[str, str, bool, list[str]]) -> list[list[str] | None]:
    """In a worker process: one system's answers to some queries over one index."""
    key, index_dir, snippets, texts = job
    sysmod.SNIPPETS = snippets
    search = sysmod.SYSTEMS[key].open(Path(index_dir))
    return [search(text) for text in texts]


class Runner:
    """Builds each system's index once per corpus and remembers answers (subsets share queries)."""

    def __init__(self, args: argparse.Namespace, corpora: dict[str, str]) -> None:
        self.args = args
        self.corpora = {name: sysmod.Corpus(name, Path(path), args.cache) for name, path in corpora.items()}
        self.index_dirs: dict[tuple[str, str], Path] = {}
        # Taken once, at the start: a fingerprint reads sources from disk, which may be edited meanwhile.
        self.fingerprints = {key: system.fingerprint() for key, system in sysmod.SYSTEMS.items()}
        self.answers: dict[tuple[str, str, str], list[str] | None] = {}
        self.builds: dict[str, dict[str, float]] = {}
        self.rebuilt: set[tuple[str, str]] = set()
        self.seconds: dict[str, float] = {}  # per system, answering queries (wall)

    def index_dir(self, system: sysmod.System, corpus_name: str) -> Path:
        """The system's index of the corpus, built first if needed."""
        key = (system.key, corpus_name)
        if key not in self.index_dirs:
            shared = (system.index_kind, corpus_name)
            rebuild = self.args.rebuild and shared not in self.rebuilt
            index_dir, seconds = ensure_index(system, self.fingerprints[system.key], self.corpora[corpus_name],
                                              self.args.index_cache, rebuild)
            self.rebuilt.add(shared)
            if seconds is not None:
                self.builds.setdefault(system.index_kind, {})[corpus_name] = round(seconds, 1)
            self.index_dirs[key] = index_dir
        return self.index_dirs[key]

    def search_all(self, system: sysmod.System, corpus_name: str, texts: list[str]) -> float:
        """Answer the texts not answered yet, in ``--jobs`` processes; returns the wall seconds."""
        todo = [t for t in dict.fromkeys(texts) if (system.key, corpus_name, t) not in self.answers]
        if not todo:
            return 0.0
        index_dir = str(self.index_dir(system, corpus_name))
        jobs = max(1, min(self.args.jobs, len(todo) // 20))  # a small set is not worth a process
        parts = [todo[i::jobs] for i in range(jobs)]
        started = time.perf_counter()
        if jobs == 1:
            answers = [search_part((system.key, index_dir, self.args.snippets, todo))]
        else:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                answers = pool.map(search_part, [(system.key, index_dir, self.args.snippets, part)
                                                 for part in parts])
        seconds = time.perf_counter() - started
        self.seconds[system.key] = self.seconds.get(system.key, 0.0) + seconds
        for part, found in zip(parts, answers):
            for text, ranked in zip(part, found):
                self.answers[(system.key, corpus_name, text)] = ranked
        return seconds

    def totals(self, systems: list[sysmod.System]) -> dict[str, dict[str, float]]:
        """Per system, over the distinct queries it answered: how many, without hits, refused, seconds."""
        made = {}
        for system in systems:
            answers = [ranked for (key, _, _), ranked in self.answers.items() if key == system.key]
            made[system.key] = {"queries": len(answers), "no_hits": sum(1 for r in answers if not r),
                                "refused": sum(1 for r in answers if r is None),
                                "seconds": round(self.seconds.get(system.key, 0.0), 1)}
        return made

    def run(self, system: sysmod.System, qset: query_sets.QuerySet) -> SystemResult:
        """Every query of the set; the measures, ranks and timings."""
        seconds = self.search_all(system, qset.corpus, [q.text for q in qset.queries])
        rankings, ranks, top, errors = {}, {}, {}, 0
        for query in qset.queries:
            ranked = self.answers[(system.key, qset.corpus, query.text)]
            errors += ranked is None
            rankings[query.qid] = ranked or []
            ranks[query.qid] = metrics.first_relevant_rank(rankings[query.qid], query.relevant)
            top[query.qid] = rankings[query.qid][:3]
        evaluation = metrics.evaluate(qset.qrels(), rankings)
        no_hits = sum(1 for ranked in rankings.values() if not ranked)
        return SystemResult(evaluation.means, ranks, top, no_hits, errors, round(seconds, 2),
                            evaluation.per_query)


def run_all(args: argparse.Namespace) -> dict:
    """Every chosen set with every chosen system; the report as a dict."""
    sources = fetch.fetch_all(args) if args.fetch_now else fetch.load_sources(args.cache) or fetch.fetch_all(args)
    corpora = sources["corpora"]
    sysmod.SNIPPETS = args.snippets
    chosen = [sysmod.SYSTEMS[key] for key in args.systems if available(sysmod.SYSTEMS[key])]
    qsets = [s.sample(args.limit, args.seed) for s in load_sets(corpora, args.cache, args.sets)]
    runner = Runner(args, corpora)
    report = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": git_commit(), "command": "python benchmarks/quality/run.py " + " ".join(args.argv),
              "limit": args.limit, "packages": sources["packages"],
              "systems": {s.key: s.label for s in chosen}, "sets": {}, "builds": runner.builds}
    for qset in qsets:
        entry = {"label": qset.label, "corpus": qset.corpus, "queries": len(qset.queries),
                 "dropped": qset.dropped, "texts": {q.qid: q.text for q in qset.queries},
                 "relevant": {q.qid: list(q.relevant) for q in qset.queries}, "systems": {}}
        for system in chosen:
            result = runner.run(system, qset)
            log(f"{qset.key}: {system.key} nDCG@10 {result.means['nDCG@10']:.3f} "
                f"({len(qset.queries)} queries, {result.seconds:.1f} s)")
            entry["systems"][system.key] = asdict(result)
        report["sets"][qset.key] = entry
    report["totals"] = runner.totals(chosen)
    if args.baselines_from:
        borrow_results(report, args.baselines_from)
    return report


def borrow_results(report: dict, path: Path) -> None:
    """Add the systems of an earlier ``--json`` report that this run did not run, set by set.

    Only sets with exactly the same queries (the same ``--limit`` and ``--seed``) are taken;
    so a searchkit-only run still shows the ratio to the baselines.
    """
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"run.py: --baselines-from {path}: {error}")
    for key, label in earlier["systems"].items():
        if key in report["systems"]:
            continue
        taken = 0
        for set_key, entry in report["sets"].items():
            old = earlier["sets"].get(set_key)
            if old and old["texts"] == entry["texts"] and key in old["systems"]:
                entry["systems"][key] = old["systems"][key]
                taken += 1
        if taken:
            report["systems"][key] = f"{label} (earlier run)"
            report["totals"][key] = earlier["totals"][key]



def git_commit() -> str | None:
    """The commit of the searchkit checkout measured (with '+' when it has changes)."""
    try:
        root = sysmod.searchkit_package().parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "searchkit"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def cell(means: dict[str, float]) -> str:
    """nDCG@10 / MRR@10 / Recall@100 of one system on one set."""
    return " / ".join(f"{means[name]:.3f}" for name in metrics.MEASURES)


def ratio_cells(entry: dict) -> tuple[str, str]:
    """searchkit's nDCG@10 over the best baseline's, and the two Recall@100s."""
    found = entry["systems"]
    baselines = {k: v for k, v in found.items() if k != "searchkit"}
    if "searchkit" not in found or not baselines:
        return "-", "-"
    mine = found["searchkit"]["means"]
    best = max(baselines, key=lambda k: baselines[k]["means"]["nDCG@10"])
    best_ndcg = baselines[best]["means"]["nDCG@10"]
    best_recall = max(v["means"]["R@100"] for v in baselines.values())
    ratio = f"{mine['nDCG@10'] / best_ndcg:.2f} ({best})" if best_ndcg else "-"
    return ratio, f"{mine['R@100']:.2f} / {best_recall:.2f}"


def table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table."""
    keys = list(report["systems"])
    header = ["query set", "queries", *(report["systems"][k] for k in keys),
              "nDCG@10 ratio to best baseline", "R@100 searchkit / best baseline"]
    rows = []
    for key, entry in report["sets"].items():
        cells = [cell(entry["systems"][k]["means"]) for k in keys]
        rows.append([f"{key}: {entry['label']}", f"{entry['queries']:,}", *cells, *ratio_cells(entry)])
    return header, rows


def render_text(report: dict) -> str:
    """The table for a terminal, columns aligned."""
    header, rows = table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(["each system: nDCG@10 / MRR@10 / Recall@100", *lines, footer(report)])


def render_markdown(report: dict) -> str:
    """The table in Markdown, as in the README."""
    header, rows = table_rows(report)
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(["Each cell: nDCG@10 / MRR@10 / Recall@100.", "", *lines, "", footer(report)])


def footer(report: dict) -> str:
    """Per system, over its distinct queries: without hits, refused, seconds; the commit."""
    parts = []
    for key, total in report["totals"].items():
        refused = f", {total['refused']} refused" if total["refused"] else ""
        parts.append(f"{key} {total['no_hits']} of {total['queries']} without hits{refused}, "
                     f"{total['seconds']:.1f} s of queries")
    commit = report.get("commit") or "unknown"
    sample = f"; a sample of {report['limit']} queries per set" if report.get("limit") else ""
    return f"At commit {commit}{sample}. Distinct queries: " + "; ".join(parts) + "."


def dump(report: dict, system: str) -> str:
    """Per query of every set: its id, the rank of its relevant document, the query, the top 3 ids."""
    lines = []
    for key, entry in report["sets"].items():
        result = entry["systems"].get(system)
        if result is None:
            continue
        for qid, text in entry["texts"].items():
            rank = result["ranks"][qid]
            lines.append("\t".join([qid, "-" if rank is None else str(rank), text,
                                    " ".join(result["top"][qid]), "→ " + " ".join(entry["relevant"][qid])]))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options (bad ones: one line and exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", default=",".join(sysmod.SYSTEMS),
                        help=f"comma-separated, of {','.join(sysmod.SYSTEMS)} (default: all)")
    parser.add_argument("--sets", default=",".join(query_sets.SET_KEYS),
                        help=f"comma-separated, of {','.join(query_sets.SET_KEYS)} (default: all)")
    parser.add_argument("--limit", type=int, help="a seeded sample of N queries per set")
    parser.add_argument("--seed", type=int, default=1, help="seed of the --limit sample (default 1)")
    parser.add_argument("--json", type=Path, dest="json_out", help="write the results and per-query ranks here")
    parser.add_argument("--dump", metavar="SYSTEM", help="print each query's rank and top 3 ids for SYSTEM")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--baselines-from", type=Path, metavar="JSON",
                        help="add the other systems' results from an earlier --json report (same queries)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the chosen systems' indexes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes answering queries (default: one per core)")
    parser.add_argument("--snippets", action="store_true",
                        help="let searchkit cut a snippet per hit (slower; the order of hits is the same)")
    parser.add_argument("--index-cache", type=Path, default=DEFAULT_INDEX_CACHE,
                        help=f"where indexes are kept (default {DEFAULT_INDEX_CACHE})")
    fetch.add_source_options(parser)
    args = parser.parse_args(argv)
    args.argv = argv
    args.systems = [s for s in args.systems.split(",") if s]
    args.sets = [s for s in args.sets.split(",") if s]
    for values, known, what in ((args.systems, sysmod.SYSTEMS, "system"), (args.sets, query_sets.SET_KEYS, "set")):
        unknown = [v for v in values if v not in known]
        if unknown or not values:
            parser.error(f"unknown {what} {', '.join(unknown) or '(none given)'}: choose from {', '.join(known)}")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.dump and args.dump not in args.systems:
        parser.error(f"--dump {args.dump}: not among --systems")
    args.fetch_now = any(getattr(args, name) for name in ("tree_root", "debs", "poetry"))
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sets with the chosen systems and print the table."""
    argv = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore")
    args = parse_args(argv)
    started = time.perf_counter()
    report = run_all(args)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.dump:
        print(dump(report, args.dump))
    print(render_markdown(report) if args.markdown else render_text(report))
    log(f"done in {report['seconds']} s")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
