"""Drives a (wrapped) Jupyter kernel through jupyter_client for kernelwrap's tests.

usage: drive.py KERNEL_NAME SCENARIO

Prints one JSON object per line on stdout:
  {"event": "msg", "channel": C, "msg": M}   every message the client received
  {"event": "fact", ...}                       what the scenario observed
The Go test asserts on these; it never prints the messages themselves.
"""

import json
import os
import signal
import sys
import time

from jupyter_client.manager import KernelManager


def emit(**kw):
    sys.stdout.write(json.dumps(kw, default=str) + "\n")
    sys.stdout.flush()


def fact(**kw):
    emit(event="fact", **kw)


def children(pid):
    """Pids whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class Driver:
    def __init__(self, name):
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel()
        self.start_client()

    def start_client(self):
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=90)

    def wrapper_pid(self):
        return self.km.provisioner.process.pid

    def inner_pid(self):
        pid = self.wrapper_pid()
        wait_for(lambda: len(children(pid)) > 0, 30)
        kids = children(pid)
        return kids[0] if kids else 0

    def run(self, code, stdin_reply=None, timeout=60):
        """Executes code; returns (iopub messages of the cell, shell reply)."""
        msg_id = self.kc.execute(code, allow_stdin=stdin_reply is not None)
        msgs = []
        end = time.time() + timeout
        idle = False
        while not idle and time.time() < end:
            if stdin_reply is not None:
                try:
                    m = self.kc.get_stdin_msg(timeout=0.05)
                    emit(event="msg", channel="stdin", msg=m)
                    self.kc.input(stdin_reply)
                except Exception:
                    pass
            try:
                m = self.kc.get_iopub_msg(timeout=0.2)
            except Exception:
                continue
            emit(event="msg", channel="iopub", msg=m)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                idle = True
        return msgs, self.reply(msg_id, max(1, end - time.time()))

    def reply(self, msg_id, timeout):
        """The shell reply to msg_id (earlier replies, e.g. to the extra
        kernel_info requests of wait_for_ready, are skipped)."""
        end = time.time() + timeout
        while True:
            m = self.kc.get_shell_msg(timeout=max(0.1, end - time.time()))
            emit(event="msg", channel="shell", msg=m)
            if m["parent_header"].get("msg_id") == msg_id:
                return m


def stream_text(msgs):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")


def scenario_leak(d):
    info = d.kc.kernel_info(reply=True, timeout=30)
    emit(event="msg", channel="shell", msg=info)
    fact(kernel_info=info["content"]["status"], language=info["content"]["language_info"]["name"])
    preloaded = os.environ["KW_PRELOADED"]
    cells = {
        "literal": "print('preloaded:', %r)" % preloaded,
        "split": "import time\nv = dbutils.secrets.get(scope='kw', key='fetched')\n"
        "print(v[:5], end='', flush=True); time.sleep(0.5); print(v[5:])",
        "token": "import os; print('token', os.environ['DATABRICKS_TOKEN'])",
        "value": "v",
        "error": "raise ValueError('bad ' + v)",
    }
    for name, code in cells.items():
        msgs, reply = d.run(code)
        results = [m for m in msgs if m["msg_type"] in ("execute_result", "error")]
        fact(cell=name, reply=reply["content"]["status"], stream=stream_text(msgs),
             results=[json.dumps(m["content"]) for m in results],
             ename=reply["content"].get("ename", ""))
    msgs, reply = d.run("x = input('give ' + v + ': '); print('got', x)", stdin_reply="fine")
    fact(cell="input", reply=reply["content"]["status"], stream=stream_text(msgs))
    fact(beating=d.kc.hb_channel.is_beating())
    d.km.shutdown_kernel(now=False)


def scenario_interrupt(d):
    start = time.time()
    msg_id = d.kc.execute("import time; time.sleep(60)")
    wait_for(lambda: False, 1.0)  # let the cell start sleeping
    d.km.interrupt_kernel()
    reply = d.reply(msg_id, 30)
    fact(interrupted=reply["content"]["status"], ename=reply["content"].get("ename", ""),
         seconds=time.time() - start, parent=reply["parent_header"].get("msg_id") == msg_id)
    # ipykernel aborts requests that come in right after an error
    # (stop_on_error); give it that moment, as a user would.
    time.sleep(1)
    msgs, reply = d.run("print(6 * 7)")
    fact(after=stream_text(msgs))
    d.km.shutdown_kernel(now=False)


def scenario_restart(d):
    old_wrapper, old_inner = d.wrapper_pid(), d.inner_pid()
    d.km.restart_kernel(now=False)
    d.kc.stop_channels()
    d.start_client()
    new_wrapper, new_inner = d.wrapper_pid(), d.inner_pid()
    msgs, reply = d.run("print(6 * 7)")
    fact(restarted=new_wrapper != old_wrapper, old_alive=alive(old_wrapper) or alive(old_inner),
         after=stream_text(msgs))
    proc = d.km.provisioner.process
    d.km.shutdown_kernel(now=False)
    fact(shutdown_alive=d.km.is_alive(),
         inner_gone=wait_for(lambda: not alive(new_inner), 10),
         exit_code=proc.poll())


def scenario_kill_wrapper(d):
    wrapper, inner = d.wrapper_pid(), d.inner_pid()
    fact(inner_found=inner != 0 and alive(inner))
    os.kill(wrapper, signal.SIGKILL)
    fact(inner_gone=wait_for(lambda: not alive(inner), 15))


def scenario_kill_inner(d):
    wrapper, inner = d.wrapper_pid(), d.inner_pid()
    fact(inner_found=inner != 0 and alive(inner))
    os.kill(inner, signal.SIGKILL)
    proc = d.km.provisioner.process
    exited = wait_for(lambda: proc.poll() is not None, 15)
    fact(wrapper_exited=exited, exit_code=proc.returncode)


def scenario_badsig(d):
    """A second client on the shell socket: a request signed with another
    key is dropped, one signed with the connection file's key is answered,
    the reply routed back to this client's identity."""
    import zmq
    from jupyter_client.session import Session

    info = d.km.get_connection_info()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, b"badsig-client")
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect("%s://%s:%d" % (info["transport"], info["ip"], info["shell_port"]))
    scheme = info["signature_scheme"]
    bad = Session(key=b"not-the-key", signature_scheme=scheme)
    good = Session(key=info["key"], signature_scheme=scheme)
    bad.send(sock, "kernel_info_request", {})
    answered = sock.poll(3000)
    fact(bad_answered=bool(answered))
    if answered:
        sock.recv_multipart()
    sent = good.send(sock, "kernel_info_request", {})
    answered = sock.poll(20000)
    parent = ""
    if answered:
        _, frames = good.feed_identities(sock.recv_multipart())
        parent = good.deserialize(frames)["parent_header"].get("msg_id", "")
    fact(good_answered=bool(answered), good_parent=parent == sent["header"]["msg_id"])
    sock.close()
    d.km.shutdown_kernel(now=False)


def main():
    name, scenario = sys.argv[1], sys.argv[2]
    d = Driver(name)
    try:
        globals()["scenario_" + scenario.replace("-", "_")](d)
    finally:
        d.kc.stop_channels()
        if d.km.has_kernel and d.km.is_alive():
            d.km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
