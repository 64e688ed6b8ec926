#!/usr/bin/env python3
"""Benchmarks for autonomy: the plan -> apply -> rollback cycle against a shadow-git cycle
and a plain-copy floor, start-up latency on big journals, and journal log/verify speed.

    python3 benches/bench.py                       # build release, run everything
    python3 benches/bench.py --only small,startup  # some scenarios
    python3 benches/bench.py --baseline OLD_BINARY # also time another build, side by side

Every figure is the median of --runs runs (default 5; start-up commands use --startup-runs).
The contenders of a scenario run interleaved, run by run, in the same process, so their
ratios are fair on a busy machine even when absolute times are noisy. Every run starts
from fresh copies of the tree (an empty store, a one-commit repository), synced first.

Scenarios
  small     1,000 files of 8 KiB; a plan rewriting 100 of them
  large     2,000 files of 32 KiB; a plan rewriting 1,000 (32 MiB)
  delete    the same 2,000 files; a plan deleting 500
  bigfile   one 1 GiB file replaced (--big-size); peak RSS of every command
  startup   status, log -n 20, preview --stat and plan-id completion on 10 and 10,000 plans
  journal   log and verify over 1,000,000 events (--events)
  capture   30,000 files, ~242 MB; `plan --capture` of a command changing one file (in a
            copy-on-write overlay view), the same capture with AUTONOMY_OVERLAY=off (the
            scratch-copy fallback), and a plain copy of the tree (cp -a), side by side
  session   `autonomy session` on trees of 300, 3,000 and 30,000 files (~242 MB): set-up and
            teardown with an agent that changes nothing (`-- true`), the same plus the
            proposal of a one-file change at the agent's exit, and `session propose` again
            from another process (reads the view, finds the identical plan); the cost should
            not grow with the tree
  hook      `autonomy hook claude` deciding a one-file Edit: read the file, plan the exact
            bytes, journal plan.created and agent.call (`[agents] wait = "0s"`, so the time
            is the hook's own, without a person's); target: under 15 ms median

Contenders in the file scenarios
  autonomy  plan FILE; apply ID --approval A; rollback ID --plan-only + rollback --approval R
            (signing the approvals is timed apart: it is the reviewer's step, not the tool's)
  git       copy the new files in, git add -A, git commit; git checkout HEAD~1 -- ., git commit
            (git's defaults: loose objects and checkouts are not fsynced)
  floor     copy the old files aside, copy the new ones in, sync; copy the old ones back, sync
"""

import argparse
import base64
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import threading
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACTOR = "bench@example.com"


# --------------------------------------------------------------------------- running


class Timed:
    """Wall time and peak RSS of one child process."""

    def __init__(self, secs, maxrss_kb, out):
        self.secs = secs
        self.maxrss_kb = maxrss_kb
        self.out = out


def run(argv, cwd=None, env=None, stdin=None, check=True, capture=True):
    t0 = time.perf_counter()
    p = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Read stderr on a thread while stdout is read here: a command that writes more than a
    # pipe holds to stderr (a signing preview) would otherwise block with us on stdout.
    errs = []
    reader = threading.Thread(target=lambda: errs.append(p.stderr.read()))
    reader.start()
    out = p.stdout.read() if capture else b""
    reader.join()
    err = errs[0] if errs else b""
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    cpu = ru.ru_utime + ru.ru_stime
    p.returncode = os.waitstatus_to_exitcode(status)
    if check and p.returncode != 0:
        sys.exit(
            f"command failed ({p.returncode}): {' '.join(map(str, argv))}\n"
            f"{err.decode(errors='replace')}"
        )
    t = Timed(secs, ru.ru_maxrss, out.decode(errors="replace"))
    t.cpu = cpu
    return t


def base_env(actor=True):
    env = dict(os.environ)
    for k in ("AUTONOMY_NOW", "AUTONOMY_TEST_SEED", "AUTONOMY_PAGER", "CLICOLOR_FORCE", "COMPLETE"):
        env.pop(k, None)
    env["NO_COLOR"] = "1"
    env["PAGER"] = "cat"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "bench"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = ACTOR
    if actor:
        env["AUTONOMY_ACTOR"] = ACTOR
    else:
        env.pop("AUTONOMY_ACTOR", None)
    return env


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_secs(s):
    if s != s:  # nan
        return "-"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


def tree_digest(root, skip=(".autonomy", ".git")):
    """Paths, modes and contents of a tree, as one digest (for the round-trip check)."""
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, root)}\0{st.st_mode:o}\0".encode())
            with open(p, "rb") as fh:
                while True:
                    b = fh.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------- fixtures


def text_bytes(rng, size):
    """Source-like text: lines of base64, compressible about as much as code is."""
    raw = rng.randbytes(size * 3 // 4 + 64)
    b = base64.b64encode(raw)
    lines = [b[i : i + 75] for i in range(0, len(b), 75)]
    out = b"\n".join(lines)[: size - 1] + b"\n"
    return out


def big_file(path, size, seed):
    """A large file of incompressible-ish data, written in chunks (bounded memory)."""
    rng = random.Random(seed)
    block = rng.randbytes(4 << 20)
    with open(path, "wb") as f:
        written = 0
        i = 0
        while written < size:
            n = min(len(block), size - written)
            f.write(i.to_bytes(8, "little") + block[8:n] if n > 8 else block[:n])
            written += n
            i += 1


class Files:
    """A synthetic tree and the plan over it."""

    def __init__(self, name, count, size, dirs, change, kind, seed=1):
        self.name = name
        self.count = count
        self.size = size
        self.dirs = dirs
        self.change = change
        self.kind = kind  # "write" | "delete" | "big"
        self.seed = seed

    def paths(self):
        per = max(1, self.count // self.dirs)
        return [f"d{i // per:02d}/f{i:05d}.txt" for i in range(self.count)]

    def changed(self):
        paths = self.paths()
        step = max(1, len(paths) // self.change)
        return paths[::step][: self.change]

    def make(self, root, newdir):
        rng = random.Random(self.seed)
        if self.kind == "big":
            big_file(root / "big.bin", self.size, self.seed)
            big_file(newdir / "big.bin", self.size, self.seed + 1)
            return
        for p in self.paths():
            full = root / p
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(text_bytes(rng, self.size))
        if self.kind == "write":
            for p in self.changed():
                full = newdir / p
                full.parent.mkdir(parents=True, exist_ok=True)
                full.write_bytes(text_bytes(rng, self.size))

    def changed_paths(self):
        return ["big.bin"] if self.kind == "big" else self.changed()

    def changed_bytes(self):
        return len(self.changed_paths()) * self.size

    def plan_toml(self, title):
        lines = [f'title = "{title}"']
        for p in self.changed_paths():
            if self.kind == "delete":
                lines += ["[[action]]", 'kind = "delete"', f'path = "{p}"']
            else:
                lines += ["[[action]]", 'kind = "write"', f'path = "{p}"', f'content_file = "new/{p}"']
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- contenders


class Autonomy:
    def __init__(self, label, binary, ws, key, work):
        self.label = label
        self.bin = str(binary)
        self.ws = ws
        self.key = key
        self.work = work
        self.env = base_env()

    def cmd(self, *args, check=True, env=None):
        return run([self.bin, *args], cwd=self.ws, env=env or self.env, check=check)

    def setup(self):
        self.cmd("init")
        pub = Path(f"{self.key}.pub").read_text().split()
        (self.ws / ".autonomy" / "allowed_signers").write_text(f"{ACTOR} {pub[0]} {pub[1]}\n")

    def objects(self):
        return du(self.ws / ".autonomy" / "objects")

    def cycle(self, fx, n, plan_dir):
        """One plan -> apply -> rollback cycle; returns step -> Timed."""
        t = {}
        plan = plan_dir / f"plan-{self.label}-{n}.toml"
        plan.write_text(fx.plan_toml(f"bench {fx.name} {self.label} run {n}"))
        store0 = self.objects()
        t["plan"] = self.cmd("plan", str(plan))
        pid = t["plan"].out.strip()
        store1 = self.objects()
        appr = self.work / f"{self.label}-{n}.approval"
        t["approve"] = self.cmd("approve", pid, "--sign-with", str(self.key), "-o", str(appr))
        t["apply"] = self.cmd("apply", pid, "--approval", str(appr))
        store2 = self.objects()
        t["rollback-plan"] = self.cmd("rollback", pid, "--plan-only")
        rid = t["rollback-plan"].out.strip()
        rappr = self.work / f"{self.label}-{n}.rollback.approval"
        t["approve-rb"] = self.cmd("approve", rid, "--sign-with", str(self.key), "-o", str(rappr))
        t["rollback-apply"] = self.cmd("rollback", pid, "--approval", str(rappr))
        store3 = self.objects()
        appr.unlink()
        rappr.unlink()
        growth = {"plan": store1 - store0, "apply": store2 - store1, "rollback": store3 - store2}
        return t, growth


def git_cycle(ws, fx, newdir, env):
    t = {}
    t0 = time.perf_counter()
    for p in fx.changed_paths():
        if fx.kind == "delete":
            os.remove(ws / p)
        else:
            shutil.copyfile(newdir / p, ws / p)
    copy = time.perf_counter() - t0
    add = run(["git", "add", "-A"], cwd=ws, env=env)
    commit = run(["git", "commit", "-q", "-m", "forward"], cwd=ws, env=env)
    checkout = run(["git", "checkout", "HEAD~1", "--", "."], cwd=ws, env=env)
    commit2 = run(["git", "commit", "-q", "-m", "back"], cwd=ws, env=env)
    t["forward"] = Timed(copy + add.secs + commit.secs, max(add.maxrss_kb, commit.maxrss_kb), "")
    t["back"] = Timed(checkout.secs + commit2.secs, max(checkout.maxrss_kb, commit2.maxrss_kb), "")
    return t


def floor_cycle(ws, fx, newdir, aside):
    t = {}
    t0 = time.perf_counter()
    aside.mkdir(exist_ok=True)
    for i, p in enumerate(fx.changed_paths()):
        shutil.copyfile(ws / p, aside / str(i))
        if fx.kind == "delete":
            os.remove(ws / p)
        else:
            shutil.copyfile(newdir / p, ws / p)
    os.sync()
    t1 = time.perf_counter()
    for i, p in enumerate(fx.changed_paths()):
        shutil.copyfile(aside / str(i), ws / p)
    os.sync()
    t2 = time.perf_counter()
    t["forward"] = Timed(t1 - t0, 0, "")
    t["back"] = Timed(t2 - t1, 0, "")
    return t


# --------------------------------------------------------------------------- scenarios


def copy_tree(src, dst):
    """A fresh copy (cp -a: modes and times kept; no reflinks on ext4, so real copies)."""
    if dst.exists():
        shutil.rmtree(dst)
    run(["cp", "-a", str(src), str(dst)])


def file_scenario(args, fx, binaries, work, key, report):
    print(f"\n## {fx.name}: setting up ...", file=sys.stderr, flush=True)
    base = work / fx.name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    plan_dir = base / "plans"
    newdir = plan_dir / "new"
    plan_dir.mkdir()
    newdir.mkdir()
    proto = base / "proto"
    proto.mkdir()
    fx.make(proto, newdir)
    start = tree_digest(proto)
    # The shadow-git prototype carries the initial commit (made once, not timed).
    git_proto = base / "proto-git"
    copy_tree(proto, git_proto)
    genv = base_env()
    run(["git", "init", "-q"], cwd=git_proto, env=genv)
    run(["git", "add", "-A"], cwd=git_proto, env=genv)
    run(["git", "commit", "-q", "-m", "initial"], cwd=git_proto, env=genv)

    runs = args.big_runs if fx.kind == "big" else args.runs
    res = {label: {} for label, _ in binaries}
    growth = {label: [] for label, _ in binaries}
    res["git"] = {}
    res["floor"] = {}
    for n in range(runs):
        print(f"   run {n + 1}/{runs}", file=sys.stderr, flush=True)
        # Every run starts from fresh copies (an empty store, a one-commit repository),
        # flushed to disk before anything is timed. Earlier runs' copies are removed only
        # at the end (small files) or before the copies are made (one big file): deleting
        # thousands of inodes just before timing slows down every file creation after it
        # on this file system (ext4 without a journal skips recently freed inodes).
        if fx.kind == "big":
            for old in base.glob("run-*"):
                shutil.rmtree(old)
        rundir = base / f"run-{n}"
        rundir.mkdir()
        contenders = []
        for label, binary in binaries:
            ws = rundir / f"ws-{label}"
            copy_tree(proto, ws)
            a = Autonomy(label, binary, ws, key, rundir)
            a.setup()
            contenders.append(a)
        git_ws = rundir / "ws-git"
        copy_tree(git_proto, git_ws)
        floor_ws = rundir / "ws-floor"
        copy_tree(proto, floor_ws)
        os.sync()
        order = list(range(len(contenders) + 2))
        random.Random(n).shuffle(order)
        for k in order:
            if k < len(contenders):
                a = contenders[k]
                t, g = a.cycle(fx, n, plan_dir)
                growth[a.label].append(g)
                for step, v in t.items():
                    res[a.label].setdefault(step, []).append(v)
            elif k == len(contenders):
                for step, v in git_cycle(git_ws, fx, newdir, genv).items():
                    res["git"].setdefault(step, []).append(v)
            else:
                for step, v in floor_cycle(floor_ws, fx, newdir, rundir / "aside").items():
                    res["floor"].setdefault(step, []).append(v)
        # Every contender must be back where it started, and the journals must verify.
        for ws in [a.ws for a in contenders] + [git_ws, floor_ws]:
            if tree_digest(ws) != start:
                sys.exit(f"{ws}: the tree differs from the start after the cycle")
        for a in contenders:
            a.cmd("verify")

    def cyc(label):
        r = res[label]
        if label in ("git", "floor"):
            return [f.secs + b.secs for f, b in zip(r["forward"], r["back"])]
        return [
            p.secs + ap.secs + rp.secs + ra.secs
            for p, ap, rp, ra in zip(r["plan"], r["apply"], r["rollback-plan"], r["rollback-apply"])
        ]

    floor = med(cyc("floor"))
    git = med(cyc("git"))
    lines = [
        f"### {fx.name}: {fx.count if fx.kind != 'big' else 1} file(s), "
        f"{len(fx.changed_paths())} {'deleted' if fx.kind == 'delete' else 'rewritten'} "
        f"({fmt_size(fx.changed_bytes())}), median of {runs}",
        "",
        "| contender | plan | apply | rollback (plan + apply) | cycle | × floor | × git | approve (each) | peak RSS | store growth: plan, apply, rollback |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, _ in binaries:
        r = res[label]
        rb = [x.secs + y.secs for x, y in zip(r["rollback-plan"], r["rollback-apply"])]
        c = med(cyc(label))
        rss = max(v.maxrss_kb for step in r.values() for v in step) * 1024
        g = {k: med([x[k] for x in growth[label]]) for k in ("plan", "apply", "rollback")}
        lines.append(
            f"| autonomy {label} | {fmt_secs(med([x.secs for x in r['plan']]))} "
            f"| {fmt_secs(med([x.secs for x in r['apply']]))} | {fmt_secs(med(rb))} "
            f"| {fmt_secs(c)} | {c / floor:.2f} | {c / git:.2f} "
            f"| {fmt_secs(med([x.secs for x in r['approve']]))} | {fmt_size(rss)} "
            f"| +{fmt_size(g['plan'])}, +{fmt_size(g['apply'])}, +{fmt_size(g['rollback'])} |"
        )
    for label in ("git", "floor"):
        r = res[label]
        rss = max(v.maxrss_kb for step in r.values() for v in step) * 1024
        lines.append(
            f"| {label} | | {fmt_secs(med([x.secs for x in r['forward']]))} "
            f"| {fmt_secs(med([x.secs for x in r['back']]))} | {fmt_secs(med(cyc(label)))} "
            f"| {med(cyc(label)) / floor:.2f} | {med(cyc(label)) / git:.2f} | "
            f"| {fmt_size(rss) if rss else '-'} | |"
        )
    report("\n".join(lines) + "\n")
    if not args.keep:
        shutil.rmtree(base)


def capture_scenario(args, binaries, work, report):
    """`plan --capture` of a one-file change against a plain copy of the whole tree."""
    fx = Files("S-capture", 30_000, 8066, 300, 1, "write")
    print(f"\n## capture: setting up {fx.count:,} files ...", file=sys.stderr, flush=True)
    base = work / "capture"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    ws = base / "ws"
    ws.mkdir()
    fx.make(ws, base / "unused")
    size = du(ws)
    env = base_env()
    target = fx.paths()[0]
    script = f"echo changed >> {target}"
    rows = {}
    for label, binary in binaries:
        run([str(binary), "init"], cwd=ws, env=env)
        run(["sync"])
        probe = subprocess.run(
            [str(binary), "plan", "--capture", "--", "true"], cwd=ws, env=env, capture_output=True, text=True
        )
        if "cannot mount a copy-on-write view" in probe.stderr:
            print(f"note: autonomy {label} has no overlay view here: {probe.stderr.strip()}", file=sys.stderr)
        cap, fallback, copy = [], [], []
        for n in range(args.runs):
            argv = [str(binary), "plan", "--capture", "--title", f"bench capture {label} {n}", "--", "sh", "-c", script]
            cap.append(run(argv, cwd=ws, env=env).secs)
            e = dict(env)
            e["AUTONOMY_OVERLAY"] = "off"
            fallback.append(run(argv[:4] + [f"bench capture fallback {label} {n}"] + argv[5:], cwd=ws, env=e).secs)
            dst = base / "copy"
            if dst.exists():
                shutil.rmtree(dst)
            copy.append(run(["cp", "-a", str(ws), str(dst)]).secs)
            shutil.rmtree(dst)
        rows[label] = (med(cap), med(fallback), med(copy))
        shutil.rmtree(ws / ".autonomy")
    lines = [
        f"### capture: {fx.count:,} files, {fmt_size(size)}, a command changing one file; median of {args.runs}",
        "",
        "| contender | `plan --capture` (overlay view) | same, `AUTONOMY_OVERLAY=off` (scratch copy) | `cp -a` of the tree | capture / copy |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, (c, f, cp) in rows.items():
        lines.append(
            f"| autonomy {label} | {fmt_secs(c)} | {fmt_secs(f)} | {fmt_secs(cp)} | {c / cp:.3f} |"
        )
    report("\n".join(lines) + "\n")
    if not args.keep:
        shutil.rmtree(base)


def session_scenario(args, binaries, work, report):
    """`autonomy session`: set-up and a one-file proposal against trees of growing size,
    the sizes interleaved run by run (so load and cache effects hit them alike), with the
    CPU time (user + system of autonomy and everything it waited for) beside the wall time."""
    env = base_env()
    counts = (300, 3_000, 30_000)
    trees = {}
    for count in counts:
        fx = Files(f"S-session-{count}", count, 8066, max(1, count // 100), 1, "write")
        print(f"\n## session: setting up {fx.count:,} files ...", file=sys.stderr, flush=True)
        base = work / f"session-{count}"
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        ws = base / "ws"
        ws.mkdir()
        fx.make(ws, base / "unused")
        trees[count] = (base, ws, du(ws), fx.paths()[0])
    run(["sync"])
    rows = []
    for label, binary in binaries:
        b = str(binary)
        usable = True
        for count, (_, ws, _, _) in trees.items():
            run([b, "init"], cwd=ws, env=env)
            probe = subprocess.run([b, "session", "--name", "probe", "--", "true"], cwd=ws, env=env, capture_output=True, text=True)
            if probe.returncode != 0:
                print(f"note: autonomy {label} cannot run a session here: {probe.stderr.strip()}", file=sys.stderr)
                usable = False
                break
            run([b, "session", "end", "probe"], cwd=ws, env=env)
        res = {c: {"setup": [], "change": [], "again": []} for c in counts}
        for n in range(args.runs if usable else 0):
            for count, (_, ws, _, target) in trees.items():
                r = res[count]
                r["setup"].append(run([b, "session", "--name", f"t{n}", "--", "true"], cwd=ws, env=env))
                run([b, "session", "end", f"t{n}"], cwd=ws, env=env)
                script = f"echo 'changed {n}' >> {target}"
                r["change"].append(run([b, "session", "--name", f"c{n}", "--", "sh", "-c", script], cwd=ws, env=env))
                r["again"].append(run([b, "session", "propose", f"c{n}"], cwd=ws, env=env))
                run([b, "session", "end", f"c{n}"], cwd=ws, env=env)
        for count, (_, ws, size, _) in trees.items():
            if usable:
                r = res[count]
                rows.append((label, count, size, *[
                    (med([t.secs for t in r[k]]), med([t.cpu for t in r[k]])) for k in ("setup", "change", "again")
                ]))
            shutil.rmtree(ws / ".autonomy", ignore_errors=True)
    if not args.keep:
        for base, _, _, _ in trees.values():
            shutil.rmtree(base)
    both = lambda wc: f"{fmt_secs(wc[0])} ({fmt_secs(wc[1])} CPU)"
    lines = [
        f"### session: set-up and a one-file proposal against trees of growing size; median of {args.runs}, sizes interleaved",
        "",
        "| contender | files | tree | `session -- true` (set-up, run, teardown) | `session -- sh -c 'change one file'` (+ proposal at exit) | `session propose` again (identical plan) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, count, size, a, c, g in rows:
        lines.append(f"| autonomy {label} | {count:,} | {fmt_size(size)} | {both(a)} | {both(c)} | {both(g)} |")
    report("\n".join(lines) + "\n")


def startup_scenario(args, binaries, gen, work, report):
    lines = [
        f"### start-up: median of {args.startup_runs} (no AUTONOMY_ACTOR: the identity is looked up as a person's would be)",
        "",
    ]
    header = "| plans | command | " + " | ".join(f"autonomy {l}" for l, _ in binaries) + " |"
    lines += [header, "| ---: | --- |" + " ---: |" * len(binaries)]
    env = base_env(actor=False)
    true_t = [run(["true"]).secs for _ in range(args.startup_runs)]
    for nplans in (10, 10_000):
        rows = {}
        for label, binary in binaries:
            ws = work / f"startup-{nplans}-{label}"
            if ws.exists():
                shutil.rmtree(ws)
            ws.mkdir(parents=True)
            run([str(binary), "init"], cwd=ws, env=env)
            run([str(gen), "plans", str(ws), str(nplans)], env=env)
            cmds = {
                "status": [str(binary), "status"],
                "log -n 20": [str(binary), "log", "-n", "20"],
                "preview --stat": [str(binary), "preview", "--stat"],
                "complete approve ''": [str(binary), "--", "autonomy", "approve", ""],
            }
            for name, argv in cmds.items():
                e = dict(env)
                if name.startswith("complete"):
                    e["COMPLETE"] = "fish"
                ts = [run(argv, cwd=ws, env=e).secs for _ in range(args.startup_runs)]
                rows.setdefault(name, []).append(med(ts))
            if not args.keep:
                shutil.rmtree(ws)
        for name, vals in rows.items():
            lines.append(f"| {nplans} | `{name}` | " + " | ".join(fmt_secs(v) for v in vals) + " |")
    lines.append(f"\n(spawning `true` takes {fmt_secs(med(true_t))} here)\n")
    report("\n".join(lines) + "\n")


def hook_scenario(args, binaries, work, report):
    import json

    lines = [
        f"### agent hook: one-file Edit by Claude Code's hook, median of {args.startup_runs} "
        "(no AUTONOMY_ACTOR: the identity is looked up as a person's would be)",
        "",
        "| | " + " | ".join(f"autonomy {l}" for l, _ in binaries) + " |",
        "| --- |" + " ---: |" * len(binaries),
    ]
    env = base_env(actor=False)
    vals = []
    for label, binary in binaries:
        ws = work / f"hook-{label}"
        if ws.exists():
            shutil.rmtree(ws)
        ws.mkdir(parents=True)
        run([str(binary), "init"], cwd=ws, env=env)
        (ws / "autonomy.toml").write_text('[agents]\nwait = "0s"\n')
        ts = []
        for i in range(args.startup_runs):
            (ws / "cfg.txt").write_text(f"name = demo\ntimeout = {i}\n")
            payload = json.dumps({
                "session_id": "bench", "cwd": str(ws), "hook_event_name": "PreToolUse",
                "tool_name": "Edit", "tool_use_id": f"toolu_{i}",
                "tool_input": {"file_path": str(ws / "cfg.txt"), "old_string": f"timeout = {i}",
                               "new_string": "timeout = 750"},
            }).encode()
            r, w = os.pipe()
            os.write(w, payload)
            os.close(w)
            t = run([str(binary), "hook", "claude"], cwd=ws, env=env, stdin=r)
            os.close(r)
            if "No decision on plan" not in t.out:
                sys.exit(f"unexpected hook answer: {t.out}")
            ts.append(t.secs)
        vals.append(med(ts))
        if not args.keep:
            shutil.rmtree(ws)
    lines.append("| decision time (plan + journal) | " + " | ".join(fmt_secs(v) for v in vals) + " |")
    report("\n".join(lines) + "\n")


def journal_scenario(args, binaries, gen, work, report):
    n = args.events
    lines = [
        f"### journal: {n:,} events, median of {args.runs}",
        "",
        "| contender | `log -n 20` | `log` (all, text) | `verify` | verify events/s | peak RSS (verify) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    env = base_env()
    for label, binary in binaries:
        ws = work / f"journal-{label}"
        if ws.exists():
            shutil.rmtree(ws)
        ws.mkdir(parents=True)
        run([str(binary), "init"], cwd=ws, env=env)
        run([str(gen), "plans", str(ws), "10"], env=env)
        run([str(gen), "events", str(ws), str(n)], env=env)
        log20 = [run([str(binary), "log", "-n", "20"], cwd=ws, env=env).secs for _ in range(args.runs)]
        logall = [run([str(binary), "log"], cwd=ws, env=env, capture=False).secs for _ in range(args.runs)]
        vs = [run([str(binary), "verify"], cwd=ws, env=env) for _ in range(args.runs)]
        v = med([x.secs for x in vs])
        rss = max(x.maxrss_kb for x in vs) * 1024
        lines.append(
            f"| autonomy {label} | {fmt_secs(med(log20))} | {fmt_secs(med(logall))} | {fmt_secs(v)} "
            f"| {n / v:,.0f} | {fmt_size(rss)} |"
        )
        if not args.keep:
            shutil.rmtree(ws)
    report("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- main


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="small,large,delete,bigfile,startup,journal,capture,session,hook")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big-runs", type=int, default=5)
    ap.add_argument("--startup-runs", type=int, default=21)
    ap.add_argument("--big-size", default="1G")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--work", default="/tmp/autonomy-bench", help="scratch folder (same file system as a real workspace)")
    ap.add_argument("--baseline", help="another autonomy binary to time side by side (e.g. the previous release)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the scratch workspaces")
    ap.add_argument("--out", help="also append the tables to this file")
    args = ap.parse_args()

    if not args.no_build:
        print("building release ...", file=sys.stderr, flush=True)
        # Two builds: the binary alone is what `cargo install` makes. Built together with
        # the example, the dev-dependencies' features (regex's Unicode tables among them)
        # would be unified into it, and the binary timed would be larger and slower to start
        # than the one people run.
        for what in (["--bin", "autonomy"], ["--example", "bench-gen"]):
            subprocess.run(["cargo", "build", "--release", *what], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "release" / "autonomy"
    gen = target / "release" / "examples" / "bench-gen"
    binaries = [("new", binary)]
    if args.baseline:
        binaries.insert(0, ("base", Path(args.baseline).resolve()))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    key = work / "bench-key"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", ACTOR, "-f", str(key)])

    def report(text):
        print(text, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(text + "\n")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    report(
        f"## autonomy benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, commit {commit}, "
        f"load {os.getloadavg()[0]:.1f}, contenders: {', '.join(l for l, _ in binaries)})\n"
    )
    only = set(args.only.split(","))
    big = parse_size(args.big_size)
    scen = {
        "small": Files("S-small", 1000, 8 << 10, 10, 100, "write"),
        "large": Files("S-large", 2000, 32 << 10, 20, 1000, "write"),
        "delete": Files("S-large-delete", 2000, 32 << 10, 20, 500, "delete"),
        "bigfile": Files("S-big-file", 1, big, 1, 1, "big"),
    }
    for name, fx in scen.items():
        if name in only:
            file_scenario(args, fx, binaries, work, key, report)
    if "startup" in only:
        startup_scenario(args, binaries, gen, work, report)
    if "journal" in only:
        journal_scenario(args, binaries, gen, work, report)
    if "capture" in only:
        capture_scenario(args, binaries, work, report)
    if "session" in only:
        session_scenario(args, binaries, work, report)
    if "hook" in only:
        hook_scenario(args, binaries, work, report)


if __name__ == "__main__":
    main()
