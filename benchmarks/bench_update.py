"""Peak memory of `oasis-mcp data update` and of loading the files, as a ratio to the largest
file's size (issue 15: within 2×).

Each measurement runs in a fresh Python process and reports the peak RSS (VmHWM, which counts the
pages of memory-mapped files too) above a baseline, divided by the size of the largest file it
handled. Two baselines are printed: after the modules are imported, and after that plus a warm-up
of the same operation on a small file (a one-year departmental file, a 2,000-row communal file),
with the high-water mark reset (``/proc/self/clear_refs``) before the measured run. The second is
the memory that grows with the data, which the target is about; the difference is a fixed cost of
the first call (modules pandas imports lazily, allocator arenas, the HTTP client), about 10-20 MB
whatever the file. Files are generated here (never the real data):

* download path: a body of the communal file's size (about 40 MB, as its csv.gz) served on
  127.0.0.1, streamed to a temp file in the data directory with its sha256 and size cap, exactly as
  ``data update`` fetches every file;
* API answer: 2.5 GB without Content-Length, refused at the cap;
* loading: a departmental file in the official format with the full grid over every year the
  parser accepts (2000–2100: 101 departments × 18 indicators × 101 years, ≈ 20 MB, the largest
  valid departmental file, 10× the real one), and the real-size grid (≈ 2 MB);
* the communal file: a synthetic one of the real file's size in rows (every commune of the real
  referential × the 15 indicators published at commune level × 10 years, ≈ 5 million rows;
  tests/commune_synthetic.py), parsed without cache, opened from its cache (memory-mapped), and
  installed by ``data update`` with the departmental file.

Usage: ``python benchmarks/bench_update.py [--size-mb 40] [--quick] [--no-communes]``. Prints
one line per case. Linux only (``/proc``). Generating the communal file takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_HWM = textwrap.dedent("""
    import gc
    def _hwm():
        with open('/proc/self/status') as fh:
            return int([l for l in fh if l.startswith('VmHWM:')][0].split()[1]) * 1024
    def _rss():
        with open('/proc/self/status') as fh:
            return int([l for l in fh if l.startswith('VmRSS:')][0].split()[1]) * 1024
    def _reset():  # the high-water mark starts again from the current RSS
        gc.collect()
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
        return _rss()
""")

_DOWNLOAD = _HWM + textwrap.dedent("""
    import hashlib, os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path
    import httpx
    from oasis_mcp.data import download, transfer
    size = int(sys.argv[1]); target = Path(sys.argv[2])
    block = os.urandom(1 << 20)
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def do_GET(self):
            self.send_response(200); self.send_header('Content-Length', str(size))
            self.end_headers()
            sent = 0
            while sent < size:
                n = min(len(block), size - sent); self.wfile.write(block[:n]); sent += n
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    from oasis_mcp.data.datagouv import Resource
    from oasis_mcp.data.editions import parse_file_name
    name = 'donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv'
    url = f'http://127.0.0.1:{srv.server_address[1]}/{name}'
    res = Resource(url=url, file=parse_file_name(name))
    client = httpx.Client(timeout=30)
    limits = transfer.Limits(transfer.Deadline.start(300), 0, 30, 30, False)
    up = download._Updater(target, client, '', (), size + 1, limits)
    # the server thread's block (1 MB) is allocated before the baseline
    base = _rss()
    t = time.perf_counter()
    got = up._download(res)
    dt = time.perf_counter() - t
    print(base, base, _hwm(), got.size, f'{dt:.2f}s')
    got.temp.unlink()
""")

_LOAD = _HWM + textwrap.dedent("""
    import os, sys
    from oasis_mcp.data.parsing import read_ssmsi_file
    import oasis_mcp.data.geography, oasis_mcp.data.indicators, pandas, numpy
    base = _rss()
    read_ssmsi_file(sys.argv[2], 'department')  # warm-up on a small file
    warm = _reset()
    parsed = read_ssmsi_file(sys.argv[1], 'department')
    print(base, warm, _hwm(), os.path.getsize(sys.argv[1]), len(parsed.frame))
""")

_DATASET = _HWM + textwrap.dedent("""
    import os, sys
    from oasis_mcp.data.dataset import load_dataset
    import oasis_mcp.data.geography, oasis_mcp.data.indicators, pandas, numpy
    base = _rss()
    load_dataset(sys.argv[2])  # warm-up on a small edition
    warm = _reset()
    dataset = load_dataset(sys.argv[1])
    size = max(p.stat().st_size for p in os.scandir(sys.argv[1]) if p.is_file())
    print(base, warm, _hwm(), size, 'three-levels')
""")

_COMMUNE_PARSE = _HWM + textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from oasis_mcp.data import commune_file
    import pandas, numpy
    base = _rss()
    commune_file.read_commune_file(Path(sys.argv[2]), use_cache=False)  # warm-up, small file
    warm = _reset()
    table = commune_file.read_commune_file(Path(sys.argv[1]))  # first read: parse, cache
    print(base, warm, _hwm(), os.path.getsize(sys.argv[1]), f'{len(table.codes)}-communes',
          f'{table.count.size}-cells')
""")

_COMMUNE_OPEN = _HWM + textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np
    from oasis_mcp.data import commune_file
    import pandas
    def use(table):  # what a start and a department's ranking touch
        table.summary(); table.position
        rows = np.flatnonzero(np.char.startswith(table.codes.astype(str), '35'))
        return int(np.sort(table.count[rows, 0, -1])[-10:].sum())
    base = _rss()
    use(commune_file.read_commune_file(Path(sys.argv[2])))  # warm-up on the small file
    warm = _reset()
    table = commune_file.read_commune_file(Path(sys.argv[1]))
    use(table)
    print(base, warm, _hwm(), os.path.getsize(sys.argv[1]),
          'memory-mapped' if isinstance(table.count, np.memmap) else 'in-memory')
""")

_API = _HWM + textwrap.dedent("""
    import sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import httpx
    from oasis_mcp.data import datagouv
    block = b' ' * (1 << 20)
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def do_GET(self):
            self.send_response(200); self.send_header('Connection', 'close'); self.end_headers()
            try:
                for _ in range(2500):
                    self.wfile.write(block)
            except OSError:
                pass
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    client = httpx.Client(timeout=30)
    base = _rss()
    try:
        datagouv.fetch_resources(client, f'http://127.0.0.1:{srv.server_address[1]}/api/')
    except datagouv.ApiError as exc:
        msg = str(exc)
    print(base, base, _hwm(), 2_500 * (1 << 20), 'refused' if 'limit' in msg else msg)
""")


_UPDATE = _HWM + textwrap.dedent("""
    import json, os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path
    from oasis_mcp.data import download
    target, warm_src, warm_target = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    srcs = [Path(a) for a in sys.argv[4:]]
    files = {'/' + p.name: p for p in [*srcs, warm_src]}
    assert len(files) == len(srcs) + 1, 'the warm-up file needs a name of its own'

    offers = {'/api/': srcs, '/warm/api/': [warm_src]}
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def do_GET(self):
            if self.path in offers:
                port = srv.server_address[1]
                body = json.dumps({'resources': [
                    {'url': f'http://127.0.0.1:{port}/{p.name}',
                     'format': 'csv.gz' if p.name.endswith('.gz') else 'csv'}
                    for p in offers[self.path]]}).encode()
                self.send_response(200); self.send_header('Content-Length', str(len(body)))
                self.end_headers(); self.wfile.write(body); return
            path = files.get(self.path)
            if path is None:
                self.send_response(404); self.send_header('Content-Length', '0')
                self.end_headers(); return
            self.send_response(200); self.send_header('Content-Length', str(path.stat().st_size))
            self.end_headers()
            with path.open('rb') as fh:
                while block := fh.read(1 << 20):
                    self.wfile.write(block)
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    # the commune referential: a local address that has nothing (the update says so, quickly)
    os.environ['OASIS_COMMUNE_REFERENTIAL_URL'] = (
        f'http://127.0.0.1:{srv.server_address[1]}/communes.tgz')
    import oasis_mcp.data.dataset, oasis_mcp.data.plausibility, oasis_mcp.data.geography
    api = f'http://127.0.0.1:{srv.server_address[1]}'
    base = _rss()
    download.update(warm_target, api + '/warm/api/', 30, fallback_urls=[],
                    allow_hosts=['127.0.0.1'], progress=False)  # warm-up on a small file
    warm = _reset()
    t = time.perf_counter()
    result = download.update(target, api + '/api/', 30, fallback_urls=[],
                             allow_hosts=['127.0.0.1'], progress=False)
    dt = time.perf_counter() - t
    communes = 'with-communes' if result.commune.get('installed') else 'no-communes'
    print(base, warm, _hwm(), max(p.stat().st_size for p in srcs), result.status,
          result.edition, communes, f'{dt:.1f}s')
""")


def departmental_file(path: Path, years: range) -> None:
    sys.path.insert(0, str(REPO))
    from oasis_mcp.data.geography import areas
    from oasis_mcp.data.indicators import catalog

    deps = [(a.code, a.region_code or "") for a in areas("department")]
    inds = [(i.label_fr, i.unit) for i in catalog("2025")]
    header = ("Code_departement", "Code_region", "annee", "indicateur", "unite_de_compte",
              "nombre", "taux_pour_mille", "insee_pop", "insee_pop_millesime", "insee_log",
              "insee_log_millesime")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff" + ";".join(f'"{h}"' for h in header) + "\n")
        n = 0
        for year in years:
            for label, unit in inds:
                for code, region in deps:
                    n += 1
                    count = (n * 7919) % 5000
                    pop = 300_000 + (n % 1000) * 1000
                    rate = f"{count / pop * 1000:.7f}".replace(".", ",")
                    fields = (code, region, str(year), label, unit, str(count), rate, str(pop),
                              str(year), str(pop // 2), str(year))
                    fh.write(";".join(f'"{f}"' for f in fields) + "\n")


def run(code: str, *args: str, cache: Path | None = None) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if cache is not None:
        env["OASIS_CACHE_DIR"] = str(cache)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=1200)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done.stdout.split()


def report(case: str, out: list[str]) -> float:
    """Print one case; return the ratio over the warm baseline."""
    base, warm, hwm, size = (int(x) for x in out[:4])
    extra, data = max(hwm - base, 0), max(hwm - warm, 0)
    print(f"{case:<56} file {size / 1e6:6.1f} MB  peak {hwm / 1e6:5.0f} MB: "
          f"+{extra / 1e6:5.1f} MB over imports ({extra / size:5.2f}×), "
          f"+{data / 1e6:5.1f} MB over the warm-up ({data / size:5.2f}×)  {' '.join(out[4:])}")
    return data / size


def communal_files(directory: Path) -> tuple[Path, Path]:
    """A communal csv.gz of the real size in rows (15 indicators), and a 2,000-row one."""
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    import gzip

    from tests.commune_synthetic import DEP_2025, SHARED, make_commune_file

    (directory / DEP_2025).symlink_to(SHARED / DEP_2025)
    (directory / "cog").symlink_to(SHARED / "cog")
    big = make_commune_file(directory, None, max_communes_per_department=None, seed=7).path
    small = directory / "small" / big.name
    small.parent.mkdir()
    with gzip.open(big, "rt", encoding="utf-8") as src, gzip.open(small, "wt",
                                                                    encoding="utf-8") as out:
        for _, line in zip(range(2_001), src, strict=False):
            out.write(line)
    return big, small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=40.0,
                        help="size of the downloaded body (default 40, the communal csv.gz)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 MB download, real-size departmental files only")
    parser.add_argument("--no-communes", action="store_true",
                        help="skip the communal file (its generation takes a minute or two)")
    args = parser.parse_args()
    if args.quick:
        args.size_mb = 1.0
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        size = int(args.size_mb * 1e6)
        report(f"download {args.size_mb:.0f} MB (stream, sha256, to the data dir)",
               run(_DOWNLOAD, str(size), tmp))
        report("API answer of 2.5 GB, no Content-Length (cap 8 MiB)", run(_API))
        # the warm-up file: another edition's name (the fake API serves files by name)
        warm = d / "warm" / "donnee-dep-data.gouv-2024-geographie2025-produit-le2025-01-26.csv"
        warm.parent.mkdir()
        departmental_file(warm, range(2024, 2025))
        real = d / "dep-2016-2025.csv"
        departmental_file(real, range(2016, 2026))
        ratios["load, real size"] = report("load a departmental file, real grid (2016-2025)",
                                           run(_LOAD, str(real), str(warm)))
        big = d / "dep-2000-2100.csv"
        if not args.quick:
            departmental_file(big, range(2000, 2101))
            ratios["load, largest"] = report("load a departmental file, 2000-2100 (largest)",
                                             run(_LOAD, str(big), str(warm)))
        # what a server start loads: the edition (departments, regions and France built)
        edition = d / "edition"
        edition.mkdir()
        departmental_file(edition / "donnee-dep-data.gouv-2025-geographie2025-produit-le"
                          "2026-01-22.csv", range(2016, 2026))
        ratios["server load"] = report("server start: an edition, real size (three levels)",
                                       run(_DATASET, str(edition), str(warm.parent)))
        # `data update` end to end: download, validate, check against the installed edition
        # (so two files are parsed), install. First the real-size grid, then the largest one
        # over it. The warm-up installs a one-year file in another directory.
        dest = d / "data"
        first = d / "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv"
        departmental_file(first, range(2016, 2026))
        ratios["update, real size"] = report(
            "data update, real-size departmental file (1st install)",
            run(_UPDATE, str(dest), str(warm), str(d / "warm-data-1"), str(first)))
        if not args.quick:
            second = d / "donnee-dep-data.gouv-2100-geographie2025-produit-le2101-01-22.csv"
            os.replace(big, second)
            ratios["update, largest"] = report(
                "data update, 2000-2100 file over the installed one",
                run(_UPDATE, str(dest), str(warm), str(d / "warm-data-2"), str(second)))
        if not args.quick and not args.no_communes:
            comm = d / "communes"
            comm.mkdir()
            communal, small = communal_files(comm)
            raw = _gunzipped_size(communal)
            print(f"communal file: {communal.stat().st_size / 1e6:.1f} MB gzipped, "
                  f"{raw / 1e6:.0f} MB of CSV")
            cache = d / "cache"
            ratios["communes, parse"] = report(
                "communal file: first read (parse, write its cache)",
                run(_COMMUNE_PARSE, str(communal), str(small), cache=cache))
            ratios["communes, open"] = report(
                "communal file: later start (cache, memory-mapped)",
                run(_COMMUNE_OPEN, str(communal), str(small), cache=cache))
            ratios["update, communes"] = report(
                "data update with the communal file (1st install)",
                run(_UPDATE, str(d / "data-communes"), str(warm), str(d / "warm-data-3"),
                    str(first), str(communal), cache=d / "cache-update"))
    # The measure: a file of the communal file's size; beside it, the departmental
    # files alone (2-20 MB), where a fixed working set of a few MB weighs on the smallest.
    groups = {"with the communal file": [k for k in ratios if "communes" in k],
              "departmental files alone": [k for k in ratios if "communes" not in k]}
    for label, keys in groups.items():
        if not keys:
            continue
        worst = max(keys, key=lambda k: ratios[k])
        print(f"largest ratio over the warm-up, {label}: {ratios[worst]:.2f}× ({worst}); "
              f"target ≤ 2×: {'met' if ratios[worst] <= 2 else 'NOT met'}")


def _gunzipped_size(path: Path) -> int:
    import gzip

    n = 0
    with gzip.open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            n += len(block)
    return n


if __name__ == "__main__":
    main()
