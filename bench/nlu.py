"""``make bench``, NLU part: parse latency, throughput, memory and start-up of the embedded NLU.

Messages are a fixed sample of the training data in every language plus messages with
dates, phone numbers, references and country names. Start-up and memory are measured in
a fresh interpreter (imports, model load and a first parse); throughput with one and
with two worker processes. ``python -m bench.nlu`` runs this part alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS = {"p50_ms": 5.0, "p99_ms": 40.0, "msgs_per_s": 200.0, "rss_mb": 300.0, "startup_s": 3.0}

EXTRA = [
    "I can't come next Tuesday, call me on 0470 12 34 56",
    "status of VR-7K3M9Q please",
    "je veux rentrer en Syrie le 3 mars 2025",
    "ich kann am Montag nicht kommen, meine Nummer ist +32 2 793 80 00",
    "soy eritreo y necesito una visa para Bélgica",
    "بدي ارجع ع سوريا يوم الثلاثاء الجاي",
    "ez dixwazim vegerim Sûriyê",
    "minda saqartveloshi dabruneba",
    "хочу вернуться в Грузию в среду",
    "my boss took my passport and does not let me leave, help",
]


def messages(n: int = 2000) -> list[str]:
    from nlu.data import load

    examples = sorted({e.text for e in load().examples})
    random.Random(0).shuffle(examples)
    return (examples[: n - len(EXTRA)] + EXTRA) if examples else EXTRA * (n // len(EXTRA))


def _model_path() -> Path:
    from bot.config import Settings

    return Path(Settings().nlu_model_path)


def _worker(args: tuple[str, list[str]]) -> tuple[int, float]:
    path, texts = args
    from nlu.service import EmbeddedNLU, load_model

    from nlu.entities import warm_up

    nlu = EmbeddedNLU(load_model(Path(path), retrain=False))
    warm_up()
    for text in texts[:50]:
        nlu.parse_sync(text)
    start = time.perf_counter()
    for text in texts:
        nlu.parse_sync(text)
    return len(texts), time.perf_counter() - start


_STARTUP = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from nlu.service import EmbeddedNLU, load_model
nlu = EmbeddedNLU(load_model(Path(sys.argv[1]), retrain=False))
nlu.parse_sync("I want to go back to my country")
ready = time.perf_counter() - t0
texts = json.loads(sys.stdin.read())
for t in texts:
    nlu.parse_sync(t)
status = open("/proc/self/status").read()
rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
peak = int(status.split("VmHWM:")[1].split()[0]) / 1024  # ru_maxrss would count the forking parent
print(json.dumps({"ready_s": ready, "rss_mb": rss, "peak_mb": peak}))
"""


def run(repeat: int = 3) -> dict[str, float]:
    from nlu.service import load_model

    path = _model_path()
    started = time.perf_counter()
    model = load_model(path)  # trains first when missing or stale
    if time.perf_counter() - started > 5:
        print(f"nlu: model trained in {model.trained.seconds:.1f} s ({model.trained.examples} examples)")
    texts = messages()
    from nlu.service import EmbeddedNLU

    from nlu.entities import warm_up

    nlu = EmbeddedNLU(model)
    warm_up()  # as load_nlu does in the background at start-up
    for text in texts[:200]:
        nlu.parse_sync(text)
    latencies = []
    for _ in range(repeat):
        for text in texts:
            t = time.perf_counter()
            nlu.parse_sync(text)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99)]
    worst = latencies[-1]

    figures = {"p50_ms": p50, "p99_ms": p99, "max_ms": worst, "single_msgs_per_s": 1000 / statistics.mean(latencies)}
    ctx = multiprocessing.get_context("spawn")
    for workers in (2,):
        chunk = texts * 2
        with ctx.Pool(workers) as pool:
            start = time.perf_counter()
            results = pool.map(_worker, [(str(path), chunk)] * workers)
            wall = time.perf_counter() - start
        done = sum(n for n, _ in results)
        figures["msgs_per_s"] = done / max(s for _, s in results)
        figures["msgs_per_s_wall"] = done / wall
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    probes = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _STARTUP, str(path)], input=json.dumps(texts[:500]),
                             capture_output=True, text=True, env=env, check=True, cwd=Path(__file__).parent.parent)
        probes.append(json.loads(out.stdout))
    figures["startup_s"] = statistics.median(p["ready_s"] for p in probes)
    figures["rss_mb"] = max(p["rss_mb"] for p in probes)
    figures["peak_mb"] = max(p["peak_mb"] for p in probes)

    def mark(key: str, higher_is_better: bool = False) -> str:
        ok = figures[key] >= TARGETS[key] if higher_is_better else figures[key] <= TARGETS[key]
        return f"(target {'≥' if higher_is_better else '≤'} {TARGETS[key]:g}: {'ok' if ok else 'MISSED'})"

    print(f"nlu: {len(texts)} messages × {repeat}, model {path.name} "
          f"({model.trained.examples} examples, {len(model.trained.languages)} languages), {os.cpu_count()} cores")
    print(f"nlu: parse p50 {p50:6.2f} ms {mark('p50_ms')}   p99 {p99:6.2f} ms {mark('p99_ms')}   max {worst:.1f} ms")
    print(f"nlu: {figures['single_msgs_per_s']:6.0f} msgs/s in one process; "
          f"{figures['msgs_per_s']:6.0f} msgs/s with 2 processes {mark('msgs_per_s', True)}")
    print(f"nlu: resident memory {figures['rss_mb']:.0f} MB (peak {figures['peak_mb']:.0f} MB) {mark('rss_mb')}; "
          f"ready to parse {figures['startup_s']:.2f} s after start {mark('startup_s')}")
    return figures


if __name__ == "__main__":
    run()
