"""Peak memory of `oasis-mcp data update` and of loading the files, as a ratio to the file's size.

Each measurement runs in a fresh Python process and reports the peak RSS (VmHWM) above what the
process held once its modules were imported (pandas alone is about 100 MB), divided by the size of
the file it handled. Files are generated here (never the real data):

* download path: a body of the communal file's size (about 40 MB, as its csv.gz) served on
  127.0.0.1, streamed to a temp file in the data directory with its sha256 and size cap, exactly as
  ``data update`` fetches every file;
* API answer: 2.5 GB without Content-Length, refused at the cap;
* loading: a departmental file in the official format with the full grid over every year the
  parser accepts (2000–2100: 101 departments × 18 indicators × 101 years, ≈ 20 MB, the largest
  valid departmental file, 10× the real one), and the real-size grid (≈ 2 MB).

Usage: ``python benchmarks/bench_update.py [--size-mb 40]``. Prints one line per case.
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
    def _hwm():
        with open('/proc/self/status') as fh:
            return int([l for l in fh if l.startswith('VmHWM:')][0].split()[1]) * 1024
    def _rss():
        with open('/proc/self/status') as fh:
            return int([l for l in fh if l.startswith('VmRSS:')][0].split()[1]) * 1024
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
    print(base, _hwm(), got.size, f'{dt:.2f}')
    got.temp.unlink()
""")

_LOAD = _HWM + textwrap.dedent("""
    import sys
    from oasis_mcp.data.parsing import read_ssmsi_file
    import oasis_mcp.data.geography, oasis_mcp.data.indicators, pandas, numpy
    base = _rss()
    parsed = read_ssmsi_file(sys.argv[1], 'department')
    import os
    print(base, _hwm(), os.path.getsize(sys.argv[1]), len(parsed.frame))
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
    print(base, _hwm(), 2_500 * (1 << 20), 'refused' if 'limit' in msg else msg)
""")


_UPDATE = _HWM + textwrap.dedent("""
    import os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path
    from oasis_mcp.data import download
    src, target = Path(sys.argv[1]), sys.argv[2]
    name = src.name
    files = {'/' + name: src}
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def do_GET(self):
            if self.path == '/api/':
                body = ('{"resources": [{"url": "http://127.0.0.1:%d/%s", "format": "csv"}]}'
                        % (srv.server_address[1], name)).encode()
                self.send_response(200); self.send_header('Content-Length', str(len(body)))
                self.end_headers(); self.wfile.write(body); return
            data = files[self.path].read_bytes()
            self.send_response(200); self.send_header('Content-Length', str(len(data)))
            self.end_headers(); self.wfile.write(data)
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    import oasis_mcp.data.dataset, oasis_mcp.data.plausibility, oasis_mcp.data.geography
    base = _rss()
    t = time.perf_counter()
    result = download.update(target, f'http://127.0.0.1:{srv.server_address[1]}/api/', 30,
                             fallback_urls=[], allow_hosts=['127.0.0.1'], progress=False)
    dt = time.perf_counter() - t
    print(base, _hwm(), src.stat().st_size, result.status, result.edition, f'{dt:.1f}s')
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


def run(code: str, *args: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done.stdout.split()


def report(case: str, out: list[str]) -> None:
    base, hwm, size = int(out[0]), int(out[1]), int(out[2])
    extra = max(hwm - base, 0)
    print(f"{case:<58} file {size / 1e6:8.1f} MB  peak RSS {hwm / 1e6:6.0f} MB "
          f"(+{extra / 1e6:5.1f} MB over {base / 1e6:4.0f} MB after imports)  "
          f"ratio {extra / size:5.2f}×  {' '.join(out[3:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=40.0,
                        help="size of the downloaded body (default 40, the communal csv.gz)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 MB download, real-size files only")
    args = parser.parse_args()
    if args.quick:
        args.size_mb = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        size = int(args.size_mb * 1e6)
        report(f"download {args.size_mb:.0f} MB (stream, sha256, to the data dir)",
               run(_DOWNLOAD, str(size), tmp))
        report("API answer of 2.5 GB, no Content-Length (cap 8 MiB)", run(_API))
        real = d / "dep-2016-2025.csv"
        departmental_file(real, range(2016, 2026))
        report("load a departmental file, real grid (2016-2025)", run(_LOAD, str(real)))
        big = d / "dep-2000-2100.csv"
        if not args.quick:
            departmental_file(big, range(2000, 2101))
            report("load a departmental file, 2000-2100 (largest valid)", run(_LOAD, str(big)))
        # `data update` end to end: download, validate, check against the installed edition
        # (so two files are parsed), install. First the real-size grid, then the largest one
        # over it.
        dest = d / "data"
        first = d / "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv"
        departmental_file(first, range(2016, 2026))
        report("data update, real-size departmental file (first install)",
               run(_UPDATE, str(first), str(dest)))
        if not args.quick:
            second = d / "donnee-dep-data.gouv-2100-geographie2025-produit-le2101-01-22.csv"
            os.replace(big, second)
            report("data update, 2000-2100 file over the installed one",
                   run(_UPDATE, str(second), str(dest)))


if __name__ == "__main__":
    main()
