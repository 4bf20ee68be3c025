"""Held-out evaluation of the chat planner: the share of questions answered right.

Usage:
    OASIS_DATA_DIR=../shared/data python benchmarks/bench_planner.py [--cases FILE] [--show N]
        [--category NAME] [--verbose]

The cases (``benchmarks/planner_heldout.jsonl``, one JSON object a line) were written before the
planner was changed for issue 12 and are kept apart from the cases it is tuned on
(``tests/test_assistant.py``). Each names a question (French or English, with the questions
before it for follow-ups, and the last data year when it is not the served edition's), and one or
more acceptable answers ("alternatives"; a case's ``last_year`` stands for an edition served with
forecasts trained on it): the tool calls expected, and the words (``notice``) the
answer must contain when something was read otherwise (a typo, a city read as its department).

Every question goes through the app's own chat engine (the offline planner, the real MCP server in
process, the real data of ``OASIS_DATA_DIR``), exactly as in the Chat tab. A case is **right** when
the answer is in the question's language and one alternative matches:

* every expected call was made: same tool, and every argument given in the case has that value
  (areas and indicators compared folded, lists as sets); arguments not given are not checked;
* no other call was made, except calls on the expected areas and indicators (a forecast also reads
  the history; a comparison of two areas may also rank them with ``compare_regions(areas=...)``)
  and the same ranking as an expected one by another measure (by count beside by rate);
* ``no_calls``: no tool was called (a clarification, help, out of scope);
* every ``notice`` word is in the answer text (folded).

A wrong answer that said something about how it read the question (a note, a clarification, a tool
error or warning shown) counts once; a wrong answer with no notice (a silent substitution) counts
double. Score = right / (right + wrong_said + 2 × wrong_silent). Target: ≥ 95 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_CASES = REPO / "benchmarks" / "planner_heldout.jsonl"
TARGET = 0.95


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(actual, list) and {fold(v) for v in expected} == {fold(v) for v in actual}
    if isinstance(expected, str):
        return isinstance(actual, str) and fold(expected) == fold(actual)
    return bool(expected == actual)


def _matches(expected: dict[str, Any], call: tuple[str, dict[str, Any]]) -> bool:
    name, args = call
    return name == expected["tool"] and all(
        _same(value, args.get(key)) for key, value in expected["args"].items())


def _areas_of(args: dict[str, Any]) -> set[str]:
    found = {fold(args["area"])} if isinstance(args.get("area"), str) else set()
    if isinstance(args.get("areas"), list):
        found |= {fold(a) for a in args["areas"]}
    return found


def _supporting(call: tuple[str, dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """An extra call on the expected areas and indicators only (a forecast's history, the ranking
    of the areas compared); a ranking of a whole level is never one unless expected."""
    name, args = call
    areas = set().union(*(_areas_of(e["args"]) for e in expected)) if expected else set()
    indicators = {fold(e["args"]["indicator"]) for e in expected if "indicator" in e["args"]}
    own = _areas_of(args)
    if name == "compare_regions" and any(  # the same ranking by another measure
            e["tool"] == "compare_regions" and _same(e["args"].get("indicator", ""),
                                                     args.get("indicator", ""))
            and _same(e["args"].get("level", ""), args.get("level", "")) for e in expected):
        return True
    if name == "compare_regions" and not args.get("areas"):
        return any(e["tool"] == "compare_regions" and _same(e["args"].get("indicator", ""),
                   args.get("indicator", "")) for e in expected)
    if not own or not own <= areas:
        return False
    return "indicator" not in args or fold(args["indicator"]) in indicators


def judge(alternative: dict[str, Any], calls: list[tuple[str, dict[str, Any]]],
          text: str) -> bool:
    expected = alternative.get("calls", [])
    if alternative.get("no_calls"):
        if calls:
            return False
    else:
        left = list(calls)
        for exp in expected:
            hit = next((c for c in left if _matches(exp, c)), None)
            if hit is None:
                return False
            left.remove(hit)
        if any(not _supporting(c, expected) for c in left):
            return False
    folded = fold(text)
    return all(fold(word) in folded for word in alternative.get("notice", []))


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _planner() -> Any:
    """The planner module (its home moved from oasis_mcp.assistant to oasis_app.planner)."""
    try:
        from oasis_app import planner
    except ImportError:
        from oasis_mcp import assistant as planner  # type: ignore[no-redef]
    return planner


def run(cases: list[dict[str, Any]], verbose: bool = False) -> dict[str, Any]:
    from oasis_app.bridge import MCPBridge
    from oasis_app.chat import ChatEngine
    from oasis_mcp.server import create_server

    planner = _planner()
    results: list[dict[str, Any]] = []
    with MCPBridge(create_server) as bridge:
        engine = ChatEngine(bridge)
        served = bridge.call("list_indicators")
        served_last = int((served.data or {}).get("last_year", engine.last_year))
        started = time.perf_counter()
        for case in cases:
            last_year = int(case.get("last_year", served_last))
            engine.last_year = last_year
            # A case's last_year stands for an edition served with forecasts trained on it.
            engine.forecast_from = last_year
            history: list[dict[str, str]] = []
            for earlier in case.get("previous", []):
                history.append({"role": "user", "content": earlier})
                history.append({"role": "assistant", "content": "…"})
            turn = engine.ask(case["question"], history)
            calls = [(o.name, dict(o.arguments)) for o in turn.steps]
            previous = [m["content"] for m in history if m["role"] == "user"]
            try:
                extra = {"forecast_from": last_year}
                plan = (planner.follow_up(case["question"], previous, last_year=last_year,
                                          **extra)
                        or planner.understand(case["question"], last_year=last_year, **extra))
            except TypeError:  # the planner before issue 12 had no forecast_from
                plan = (planner.follow_up(case["question"], previous, last_year=last_year)
                        or planner.understand(case["question"], last_year=last_year))
            said = bool(plan.notes or not plan.calls) or any(
                not o.ok or (o.data or {}).get("warnings") for o in turn.steps)
            right = turn.language == case["lang"] and any(
                judge(alt, calls, turn.text) for alt in case["expect"])
            results.append({"id": case["id"], "category": case["category"], "right": right,
                            "said": said, "calls": calls, "language": turn.language,
                            "question": case["question"], "text": turn.text})
        elapsed = time.perf_counter() - started
    right = sum(r["right"] for r in results)
    wrong_said = sum(not r["right"] and r["said"] for r in results)
    wrong_silent = sum(not r["right"] and not r["said"] for r in results)
    return {"results": results, "right": right, "wrong_said": wrong_said,
            "wrong_silent": wrong_silent, "elapsed_s": elapsed,
            "score": right / max(1, right + wrong_said + 2 * wrong_silent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--category", help="only the cases of this category")
    parser.add_argument("--show", type=int, default=40, help="wrong cases to print (default 40)")
    parser.add_argument("--verbose", action="store_true", help="print the answers of wrong cases")
    options = parser.parse_args()
    cases = load(options.cases)
    if options.category:
        cases = [c for c in cases if c["category"] == options.category]
    report = run(cases)
    results = report["results"]
    by_category: dict[str, Counter[str]] = {}
    for r in results:
        counter = by_category.setdefault(r["category"], Counter())
        counter["n"] += 1
        counter["right"] += r["right"]
    languages = Counter(c["lang"] for c in cases)
    print(f"held-out planner evaluation: {len(cases)} questions "
          f"({languages['fr']} French, {languages['en']} English), {options.cases.name}")
    for category, counter in sorted(by_category.items()):
        print(f"  {category:<15} {counter['right']:>3}/{counter['n']:<3}")
    shown = 0
    for r in results:
        if r["right"] or shown >= options.show:
            continue
        shown += 1
        flag = "said" if r["said"] else "SILENT"
        calls = "; ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})"
                          for n, a in r["calls"]) or "no call"
        print(f"  WRONG [{flag}] {r['id']} ({r['language']}) {r['question'][-90:]!r}\n"
              f"        -> {calls}")
        if options.verbose:
            print("        " + r["text"][:400].replace("\n", " "))
    print(f"right {report['right']}/{len(results)}, wrong with a notice {report['wrong_said']}, "
          f"wrong and silent {report['wrong_silent']} (counted double)")
    print(f"score {report['score']:.1%} (target {TARGET:.0%}) in {report['elapsed_s']:.1f} s")


if __name__ == "__main__":
    main()
