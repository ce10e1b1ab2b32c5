"""Measures a kernel wrapped by `hush kernel run` against the same kernel
bare, through jupyter_client only (no jupyter_server), for
BenchmarkKernelWrapper (benchmarks/kernel_bench_test.go):

    kernel_bench.py BARE_NAME WRAPPED_NAME LINES PINGS STARTS PROBE_FILE

- stream: a cell printing LINES short lines with flush=True on each kernel;
  stream messages and lines are counted on a raw ZeroMQ SUB socket (no
  deserialisation, so the client is not the bottleneck) from the
  execute_request until the last line arrives (idle is not awaited), or,
  when a publisher dropped messages at its high-water mark, until 2 s of
  silence after the execute_reply; secs ends at the last stream message.
- latency: PINGS execute_request round trips (code "pass") per kernel,
  alternating between the two, in microseconds.
- start: STARTS kernel starts per kernel, alternating, from start_kernel
  until the kernel answers kernel_info, in milliseconds.
- probe: what the wrapped kernel prints for the content of PROBE_FILE (one
  of the secrets the wrapper pre-loads: it must come out as [REDACTED]).
- rss: the wrapper's VmRSS and VmHWM in KiB after the stream and latency runs.

Prints one JSON object on stdout."""

import json
import sys
import time

import zmq
from jupyter_client.manager import start_new_kernel

TIMEOUT = 120


def stream_run(km, kc, lines):
    info = km.get_connection_info()
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect("%s://%s:%d" % (info["transport"], info["ip"], info["iopub_port"]))
    # Wait until the subscription is live: a kernel_info makes the kernel
    # publish status messages.
    deadline = time.monotonic() + TIMEOUT
    joined = False
    while not joined:
        kc.kernel_info()
        if sub.poll(200):
            joined = True
        if time.monotonic() > deadline:
            raise RuntimeError("no iopub message on the SUB socket")
    while sub.poll(300):
        sub.recv_multipart()
    code = "for i in range(%d):\n    print('line', i, flush=True)" % lines
    start = time.monotonic()
    msg_id = kc.execute(code, store_history=False)
    pid = msg_id.encode()
    msgs = nlines = 0
    last_at = start
    replied_at = None
    while True:
        if not sub.poll(100):
            if replied_at is None:
                try:
                    kc.get_shell_msg(timeout=0)  # the execute_reply
                    replied_at = time.monotonic()
                except Exception:
                    pass
            if time.monotonic() - last_at > TIMEOUT:
                raise RuntimeError("stream stalled after %d messages" % msgs)
            # After the reply, wait for stragglers until 2 s of silence.
            if replied_at is not None and time.monotonic() - max(last_at, replied_at) > 2:
                break
            continue
        parts = sub.recv_multipart(copy=True)
        i = parts.index(b"<IDS|MSG>")
        header, parent, content = parts[i + 2], parts[i + 3], parts[i + 5]
        if pid not in parent or b'"stream"' not in header:
            continue
        msgs += 1
        last_at = time.monotonic()
        nlines += json.loads(content)["text"].count("\n")
        if nlines >= lines:
            break
    sub.close(0)
    if replied_at is None:
        kc.get_shell_msg(timeout=TIMEOUT)
    return {"msgs": msgs, "lines": nlines, "secs": last_at - start}


def ping(kc):
    start = time.perf_counter()
    msg_id = kc.execute("pass", store_history=False)
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return (time.perf_counter() - start) * 1e6


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out


def start_time(name):
    start = time.monotonic()
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
    d = (time.monotonic() - start) * 1000
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return d


def main():
    bare_name, wrapped_name = sys.argv[1], sys.argv[2]
    lines, pings, starts = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    probe = sys.argv[6]
    out = {"stream": {}, "latency": {"bare": [], "wrapped": []}, "start": {"bare": [], "wrapped": []}}
    kernels = {}
    try:
        for role, name in (("bare", bare_name), ("wrapped", wrapped_name)):
            kernels[role] = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
        wrapper_pid = kernels["wrapped"][0].provisioner.process.pid
        out["rss_start"] = rss(wrapper_pid)
        got = []
        kernels["wrapped"][1].execute_interactive(
            "print(open(%r).read())" % probe, timeout=TIMEOUT,
            output_hook=lambda m: got.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
        out["probe"] = "".join(got)
        # One iopub subscriber per kernel, the SUB socket of stream_run:
        # jupyter_client's own iopub socket would sit unread during the
        # stream, and a subscriber that does not read must not be measured.
        for km, kc in kernels.values():
            kc.iopub_channel.stop()
        for role in ("bare", "wrapped"):  # warm-up
            stream_run(*kernels[role], 1000)
        for role in ("bare", "wrapped"):
            out["stream"][role] = stream_run(*kernels[role], lines)
        for role in ("bare", "wrapped"):
            for _ in range(50):
                ping(kernels[role][1])
        for i in range(pings):
            for role in ("bare", "wrapped"):
                out["latency"][role].append(ping(kernels[role][1]))
        out["rss"] = rss(wrapper_pid)
    finally:
        for km, kc in kernels.values():
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for _ in range(starts):
        for role, name in (("bare", bare_name), ("wrapped", wrapped_name)):
            out["start"][role].append(start_time(name))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
