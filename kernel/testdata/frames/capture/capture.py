#!/usr/bin/python3
"""Capture real kernel websocket frames from jupyter_server + ipykernel.

Starts a private jupyter_server on a free 127.0.0.1 port, creates one Python
kernel per wire format through the REST API, and for every scenario opens a
kernel websocket (legacy: no subprotocol; v1: v1.kernel.websocket.jupyter.org),
sends the scenario's requests and records every frame in both directions until
the kernel has answered and gone idle. Each scenario is written to
<out>/<format>/<scenario>.json as a list of
    {"direction": "send"|"recv", "type": "text"|"binary", "data": str}
where data is the text of a text frame or the base64 of a binary frame.

Run with Debian's interpreter (it has ipykernel and tornado):
    /usr/bin/python3 kernel/testdata/frames/capture/capture.py [--out kernel/testdata/frames]
See README.md next to this file.
"""

import argparse
import base64
import datetime
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from tornado import gen, ioloop
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

V1 = "v1.kernel.websocket.jupyter.org"
TOKEN = "hush-capture-token"
SECRET_EXPR = "s = 'hello-' + 'secret'\n"  # the secret never appears whole in the code

# Each scenario: a list of requests (msg_type, content, channel); requests are
# sent one after the other, each once the previous one is answered and idle.
SCENARIOS = [
    ("kernel_info", [("kernel_info_request", {}, "shell")]),
    ("print_whole", [("execute_request", {
        "code": "import sys\nprint('hello-secret')\nprint('err: hello-secret', file=sys.stderr)\n"}, "shell")]),
    ("split_flush", [("execute_request", {
        "code": "import time\n" + SECRET_EXPR +
        "print(s[:3], end='', flush=True)\ntime.sleep(0.5)\n"
        "print(s[3:8], end='', flush=True)\ntime.sleep(0.5)\nprint(s[8:])\n"}, "shell")]),
    ("split_interleaved", [("execute_request", {
        "code": "import sys, time\n" + SECRET_EXPR +
        "sys.stdout.write(s[:6]); sys.stdout.flush()\n"
        "sys.stderr.write('warning\\n'); sys.stderr.flush()\ntime.sleep(0.5)\n"
        "sys.stdout.write(s[6:] + ' done\\n')\n"}, "shell")]),
    ("exception", [("execute_request", {
        "code": SECRET_EXPR + "raise ValueError('bad token ' + s)\n"}, "shell")]),
    ("execute_result", [("execute_request", {"code": SECRET_EXPR + "s\n"}, "shell")]),
    ("html_display", [("execute_request", {
        "code": "from IPython.display import HTML, Markdown, display\n" + SECRET_EXPR +
        "display(HTML('<b>' + s + '</b>'))\nh = display(Markdown('*' + s + '*'), display_id=True)\n"
        "h.update(HTML('<i>updated ' + s + '</i>'))\n"}, "shell")]),
    ("json_display", [("execute_request", {
        "code": "from IPython.display import JSON, display\n" + SECRET_EXPR +
        "display(JSON({'token': s, s: 'the secret as a key', "
        "'nested': {'list': [s, 1.5e300, 12345678901234567890, None, True]}}))\n"
        "display({'application/json': {'k': s}, 'text/plain': repr({'k': s})}, raw=True)\n"}, "shell")]),
    ("input_prompt", [("execute_request", {
        "code": SECRET_EXPR + "x = input('password for ' + s + ': ')\nprint(len(x))\n",
        "allow_stdin": True}, "shell")]),
    ("inspect", [
        ("execute_request", {"code": SECRET_EXPR}, "shell"),
        ("inspect_request", {"code": "s", "cursor_pos": 1, "detail_level": 0}, "shell"),
        ("complete_request", {"code": "s.st", "cursor_pos": 4}, "shell"),
    ]),
    ("history", [("history_request", {
        "output": False, "raw": True, "hist_access_type": "tail", "n": 20}, "shell")]),
    ("comm_buffers", [("execute_request", {
        "code": "import warnings\nwarnings.simplefilter('ignore')\nfrom ipykernel.comm import Comm\n" + SECRET_EXPR +
        "c = Comm(target_name='hush_test', data={'v': s}, buffers=[s.encode(), b'\\x00\\x01' + s.encode()])\n"
        "c.send(data={'x': s}, buffers=[b'pre ' + s.encode() + b' post'])\n"
        "c.close()\n"}, "shell")]),
    ("kernel_died", [("execute_request", {
        "code": "import os, signal\n" + SECRET_EXPR + "print(s[:7], end='', flush=True)\n"
        "import time\ntime.sleep(0.5)\nos.kill(os.getpid(), signal.SIGKILL)\n"}, "shell")]),
    ("restart", [("execute_request", {
        "code": "import time\n" + SECRET_EXPR + "print(s[:7], end='', flush=True)\ntime.sleep(60)\n"}, "shell")]),
]


class CaptureTimeout(Exception):
    """A scenario did not complete; it is retried on a fresh connection."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def make_msg(session, msg_type, content, channel):
    msg_id = uuid.uuid4().hex
    return {
        "header": {"msg_id": msg_id, "username": "capture", "session": session,
                   "msg_type": msg_type, "version": "5.3", "date": now()},
        "parent_header": {}, "metadata": {}, "content": content,
        "channel": channel, "buffers": [],
    }


def encode(fmt, msg):
    """Returns (binary, data) as the websocket client sends it."""
    if fmt == "legacy":
        return False, json.dumps(msg)
    parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    channel = msg["channel"].encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(channel))
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    head = struct.pack("<Q", len(offsets)) + b"".join(struct.pack("<Q", o) for o in offsets)
    return True, head + channel + b"".join(parts)


def decode(fmt, data):
    """Returns (channel, header, parent_header, content) of a received frame."""
    if fmt == "v1":
        n = struct.unpack_from("<Q", data, 0)[0]
        offs = [struct.unpack_from("<Q", data, 8 * (i + 1))[0] for i in range(n)]
        parts = [data[offs[i]:offs[i + 1]] for i in range(n - 1)]
        return (parts[0].decode(), json.loads(parts[1]), json.loads(parts[2]), json.loads(parts[4]))
    if isinstance(data, bytes):
        n = struct.unpack_from("!I", data, 0)[0]
        offs = list(struct.unpack_from("!" + "I" * n, data, 4)) + [len(data)]
        msg = json.loads(data[offs[0]:offs[1]])
    else:
        msg = json.loads(data)
    return msg.get("channel"), msg["header"], msg["parent_header"], msg["content"]


def record(frames, direction, data):
    if isinstance(data, bytes):
        frames.append({"direction": direction, "type": "binary", "data": base64.b64encode(data).decode()})
    else:
        frames.append({"direction": direction, "type": "text", "data": data})


async def run_scenario(base, kernel_id, fmt, name, requests):
    url = base.replace("http", "ws", 1) + "/api/kernels/%s/channels?session_id=%s" % (kernel_id, uuid.uuid4().hex)
    req = HTTPRequest(url, headers={"Authorization": "token " + TOKEN})
    ws = await websocket_connect(req, subprotocols=[V1] if fmt == "v1" else None)
    got = ws.selected_subprotocol if hasattr(ws, "selected_subprotocol") else None
    if (fmt == "v1") != (got == V1):
        raise SystemExit("%s: server selected subprotocol %r" % (fmt, got))
    session = uuid.uuid4().hex
    frames = []

    async def read(deadline):
        """Reads one frame or returns None at the deadline."""
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return None
        try:
            data = await gen.with_timeout(datetime.timedelta(seconds=timeout), ws.read_message())
        except gen.TimeoutError:
            return None
        if data is None:
            raise SystemExit("%s/%s: websocket closed" % (fmt, name))
        record(frames, "recv", data)
        return data

    # Let the connection settle (jupyter_server may send status frames).
    settle = time.monotonic() + 1.0
    while await read(settle) is not None:
        pass

    for msg_type, content, channel in requests:
        if msg_type == "execute_request":
            content = dict({"silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}, **content)
        msg = make_msg(session, msg_type, content, channel)
        binary, data = encode(fmt, msg)
        record(frames, "send", data)
        await ws.write_message(data, binary=binary)
        msg_id = msg["header"]["msg_id"]
        replied = idle = False
        restarted = False
        deadline = time.monotonic() + 20
        while not (replied and idle):
            data = await read(deadline)
            if data is None:
                for fr in frames:
                    d = fr["data"] if fr["type"] == "text" else base64.b64decode(fr["data"])
                    if fr["direction"] == "recv":
                        c, h, p, b = decode(fmt, d)
                        sys.stderr.write("recv %s %s parent=%s %s\n" % (c, h["msg_type"], p.get("msg_id"), json.dumps(b)[:100]))
                    else:
                        sys.stderr.write("send %.200s\n" % d)
                raise CaptureTimeout("%s/%s: no reply/idle for %s" % (fmt, name, msg_type))
            ch, header, parent, body = decode(fmt, data)
            mt = header.get("msg_type")
            if name == "restart" and mt == "stream" and not restarted:
                # The cell is sleeping with a partial secret held; restart the kernel.
                restarted = True
                post(base, "/api/kernels/%s/restart" % kernel_id)
            if mt == "status" and body.get("execution_state") in ("restarting", "dead"):
                replied = idle = True
                break
            if parent.get("msg_id") != msg_id:
                continue
            if mt == "input_request":
                reply = make_msg(session, "input_reply", {"value": "typed"}, "stdin")
                reply["parent_header"] = header
                b, d = encode(fmt, reply)
                record(frames, "send", d)
                await ws.write_message(d, binary=b)
            if ch in ("shell", "control") and mt.endswith("_reply"):
                replied = True
            if mt == "status" and body.get("execution_state") == "idle":
                idle = True
    # Trailing frames (e.g. the new kernel's starting status after a restart).
    tail = time.monotonic() + (5.0 if name in ("restart", "kernel_died") else 0.5)
    while await read(tail) is not None:
        pass
    ws.close()
    return frames


def post(base, path, body=None):
    req = urllib.request.Request(base + path, method="POST", data=json.dumps(body or {}).encode(),
                                 headers={"Authorization": "token " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def wait_up(base, proc):
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit("jupyter-server exited with %s" % proc.returncode)
        try:
            req = urllib.request.Request(base + "/api/status", headers={"Authorization": "token " + TOKEN})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("jupyter-server did not come up")


def versions():
    import ipykernel
    import jupyter_client
    import jupyter_server
    import tornado
    return {"jupyter_server": jupyter_server.__version__, "ipykernel": ipykernel.__version__,
            "jupyter_client": jupyter_client.__version__, "tornado": tornado.version,
            "python": sys.version.split()[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--server", default=shutil.which("jupyter-server", path="/usr/bin") or "jupyter-server")
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    work = tempfile.mkdtemp(prefix="hush-capture-")
    env = dict(os.environ, HOME=work, JUPYTER_CONFIG_DIR=os.path.join(work, "config"),
               JUPYTER_DATA_DIR=os.path.join(work, "data"), JUPYTER_RUNTIME_DIR=os.path.join(work, "runtime"),
               IPYTHONDIR=os.path.join(work, "ipython"), PYTHONNOUSERSITE="1")
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    proc = subprocess.Popen([args.server, "--no-browser", "--ServerApp.token=" + TOKEN,
                             "--ServerApp.ip=127.0.0.1", "--port=%d" % port, "--ServerApp.port_retries=0",
                             "--ServerApp.root_dir=" + work] + (["--allow-root"] if os.geteuid() == 0 else []),
                            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        wait_up(base, proc)
        for fmt in ("legacy", "v1"):
            kernel = post(base, "/api/kernels", {"name": "python3"})
            outdir = os.path.join(args.out, fmt)
            os.makedirs(outdir, exist_ok=True)
            for name, requests in SCENARIOS:
                if only and name not in only:
                    continue
                for attempt in range(3):
                    try:
                        frames = ioloop.IOLoop.current().run_sync(
                            lambda: run_scenario(base, kernel["id"], fmt, name, requests), timeout=180)
                        break
                    except CaptureTimeout as e:
                        sys.stderr.write("retrying after: %s\n" % e)
                else:
                    raise SystemExit("%s/%s: giving up" % (fmt, name))
                with open(os.path.join(outdir, name + ".json"), "w") as f:
                    json.dump(frames, f, indent=1, ensure_ascii=False)
                    f.write("\n")
                print("%s/%s: %d frames" % (fmt, name, len(frames)))
        with open(os.path.join(args.out, "VERSIONS.json"), "w") as f:
            json.dump(versions(), f, indent=1, sort_keys=True)
            f.write("\n")
    except BaseException:
        with open(os.path.join(work, "server.log")) as f:
            sys.stderr.write("--- jupyter-server log ---\n" + f.read()[-4000:])
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
