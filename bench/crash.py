"""Crash harness: ingest through the real server while the driver kill -9s it at random moments.

Each trial starts `nova serve` on the same data folder, writes batches of documents (new ones, and new
versions of earlier ones) with POST /v1/kbs/crash/documents?wait=true from two client threads, and
SIGKILLs the server after a seeded random delay. After every restart it checks every acknowledged write:
the document is there, whole (chunks 0..n-1, one version: its text carries exactly one version marker)
and at the acknowledged version or a later one that was in flight when the server died. The same is done
for `nova ingest` on the command line (a folder of files, killed mid-run): whatever it committed is whole.

Usage: python3 bench/crash.py NOVA_BINARY [--trials 20] [--cli-trials 10] [--seed 7] [--out FILE]
Only the standard library; the server runs with auth off on 127.0.0.1.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

KB = "crash"
FILLER = (
    "restart the service check the logs rotate the certificate clear the cache drain the node "
    "verify the checksum reload the configuration inspect the queue raise the limit"
).split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def text_of(doc_id, version, rng):
    """~230 words: two chunks or more, so a torn version would show as a gap or mixed markers."""
    words = [rng.choice(FILLER) for _ in range(220)]
    return f"Document {doc_id}. " + " ".join(words) + f" marker-{doc_id}-v{version} end."


class Server:
    def __init__(self, binary, data, log):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, NOVA_DATA__DIR=data, NOVA_AUTH__MODE="off")
        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", f"127.0.0.1:{self.port}"],
            env=env, stdout=log, stderr=log,
        )
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start")
            try:
                if request(self.base, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready in 300 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def drain_tasks(base, first):
    """Waits for every ingest task from id `first` on to finish: writes the server accepted before the
    kill (even unacknowledged ones) are resumed at restart and may land after it. Returns the next id."""
    task, misses = first, 0
    while misses < 3:
        try:
            _, info = request(base, "GET", f"/v1/tasks/{task}")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
            misses += 1
            task += 1
            continue
        misses = 0
        while info["status"] in ("queued", "processing"):
            time.sleep(0.2)
            _, info = request(base, "GET", f"/v1/tasks/{task}")
        task += 1
    return task - misses


def check_doc(base, doc_id, allowed):
    """(version held, None) when the document is whole at an allowed version, else (None, what is
    wrong); (0, None) when it is absent and 0 is allowed."""
    try:
        status, doc = request(base, "GET", f"/v1/kbs/{KB}/documents/{doc_id}")
    except urllib.error.HTTPError as e:
        if e.code == 404 and 0 in allowed:
            return 0, None
        return None, f"GET answered {e.code}"
    chunks = doc["chunks"]
    if [c["index"] for c in chunks] != list(range(len(chunks))):
        return None, f"chunk indices {[c['index'] for c in chunks]}"
    text = " ".join(c["text"] for c in chunks)
    versions = set(int(v) for v in re.findall(rf"marker-{re.escape(doc_id)}-v(\d+)", text))
    if len(versions) != 1:
        return None, f"version markers {sorted(versions)} (not one whole version)"
    (v,) = versions
    if v not in allowed:
        return None, f"version {v}, allowed {sorted(allowed)}"
    return v, None


def api_trial(args, trial, data, log, acked, inflight_all, state):
    rng = random.Random(args.seed * 1000 + trial)
    server = Server(args.binary, data, log)
    if trial == 0:
        request(server.base, "POST", "/v1/kbs", {"name": KB})
    lock = threading.Lock()
    stop = threading.Event()
    counters = {"acked": 0, "errors": 0}

    def writer(wid):
        wrng = random.Random(args.seed * 7919 + trial * 31 + wid)
        n = 0
        while not stop.is_set():
            batch = []
            with lock:
                for _ in range(wrng.randint(1, 4)):
                    if acked and wrng.random() < 0.3:
                        doc_id = wrng.choice(sorted(acked))
                    else:
                        doc_id = f"t{trial}-w{wid}-{n}"
                        n += 1
                    # One unresolved write per document at a time.
                    if doc_id in inflight_all:
                        continue
                    version = acked.get(doc_id, 0) + 1
                    inflight_all[doc_id] = version
                    batch.append({"id": doc_id, "title": f"Doc {doc_id}",
                                  "text": text_of(doc_id, version, wrng), "_v": version})
            if not batch:
                continue
            body = {"documents": [{k: v for k, v in d.items() if k != "_v"} for d in batch]}
            try:
                status, _ = request(server.base, "POST", f"/v1/kbs/{KB}/documents?wait=true", body)
                ok = status == 200
            except Exception:  # the kill, or a refused connection after it
                ok = False
            with lock:
                for d in batch:
                    if ok:
                        acked[d["id"]] = d["_v"]
                        inflight_all.pop(d["id"], None)
                        counters["acked"] += 1
                    # Not acknowledged: the version may or may not have landed; it stays "in flight".

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(2)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.5, args.max_delay))
    server.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=130)
    # Restart and check every document written: an acknowledged one at its version (or at the version
    # of an update in flight at the kill), an unacknowledged new one absent or whole.
    server = Server(args.binary, data, log)
    state["next_task"] = drain_tasks(server.base, state["next_task"])
    lost, torn = [], []
    for doc_id in sorted(set(acked) | set(inflight_all)):
        allowed = {acked.get(doc_id, 0)}
        if doc_id in inflight_all:
            allowed.add(inflight_all[doc_id])
        held, problem = check_doc(server.base, doc_id, allowed)
        if problem:
            (lost if doc_id in acked else torn).append((doc_id, problem))
            continue
        inflight_all.pop(doc_id, None)
        if held:
            acked[doc_id] = held  # durable now: later updates build on it
    status, info = request(server.base, "GET", f"/v1/kbs/{KB}")
    server.stop()
    return {"trial": trial, "acked_this_trial": counters["acked"], "acked_total": len(acked),
            "documents": info["documents"], "lost": lost, "torn": torn}


def cli_trial(args, trial, root, log):
    rng = random.Random(args.seed * 4099 + trial)
    data = os.path.join(root, f"cli-{trial}")
    docs = os.path.join(root, f"cli-docs-{trial}")
    os.makedirs(docs)
    # ~600 chunks: the CLI commits every 256, so a kill lands between commits as often as not.
    n = 300
    for i in range(n):
        with open(os.path.join(docs, f"c{i}.md"), "w") as f:
            f.write(f"# Doc c{i}\n\n{text_of(f'c{i}.md', 1, rng)}\n")
    env = dict(os.environ, NOVA_DATA__DIR=data)
    proc = subprocess.Popen([args.binary, "ingest", docs, "--kb", KB], env=env, stdout=log, stderr=log)
    # The CLI loads the model first (a second or two), then commits every 256 chunks: on a host embedding
    # ~10 chunks/s the commits land ~25 s apart, so kills spread over a minute fall before, between and
    # after them.
    time.sleep(rng.uniform(2.0, 2.0 + args.cli_max_delay))
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    server = Server(args.binary, data, log)
    problems = []
    present = 0
    try:
        status, info = request(server.base, "GET", f"/v1/kbs/{KB}")
    except urllib.error.HTTPError:
        info = {"documents": 0}  # killed before the KB existed
    for i in range(n):
        doc_id = f"c{i}.md"
        held, problem = check_doc(server.base, doc_id, {0, 1})
        if problem:
            problems.append((doc_id, problem))
        elif held:
            present += 1
    if not killed and present != n:
        problems.append(("*", f"ingest finished but {present}/{n} documents are there"))
    if info["documents"] != present:
        problems.append(("*", f"KB counts {info['documents']} documents, {present} readable"))
    server.stop()
    return {"trial": trial, "killed": killed, "committed": present, "of": n, "problems": problems}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binary")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--cli-trials", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--max-delay", type=float, default=6.0)
    p.add_argument("--cli-max-delay", type=float, default=60.0)
    p.add_argument("--out", default="bench/results/crash.json")
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="nova-crash-")
    data = os.path.join(root, "api")
    log = open(os.path.join(root, "server.log"), "w")
    acked, inflight, state = {}, {}, {"next_task": 1}
    api, cli = [], []
    try:
        for t in range(args.trials):
            r = api_trial(args, t, data, log, acked, inflight, state)
            api.append(r)
            print(f"api trial {t:2}: {r['acked_this_trial']:3} writes acknowledged, "
                  f"{r['acked_total']} documents checked, lost {len(r['lost'])}, torn {len(r['torn'])}",
                  flush=True)
        for t in range(args.cli_trials):
            r = cli_trial(args, t, root, log)
            cli.append(r)
            print(f"cli trial {t:2}: {'killed' if r['killed'] else 'finished'} with "
                  f"{r['committed']}/{r['of']} documents committed, problems {len(r['problems'])}",
                  flush=True)
    finally:
        log.close()
    lost = sum(len(r["lost"]) + len(r["torn"]) for r in api) + sum(len(r["problems"]) for r in cli)
    summary = {
        "seed": args.seed,
        "api_trials": len(api),
        "acknowledged_writes": sum(r["acked_this_trial"] for r in api),
        "documents_checked_after_last_restart": api[-1]["acked_total"] if api else 0,
        "cli_trials": len(cli),
        "cli_killed_mid_run": sum(1 for r in cli if r["killed"]),
        "acknowledged_writes_lost_or_torn": lost,
        "api": api,
        "cli": cli,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("api", "cli")}))
    if lost:
        print(f"FAILED: see {args.out} and {root}/server.log", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
