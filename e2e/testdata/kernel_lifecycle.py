"""Lifecycle of a kernel wrapped by `hush kernel run`, through
jupyter_client.KernelManager as notebook servers drive it:

    kernel_lifecycle.py KERNEL_NAME [--bare]

interrupt a time.sleep(60) cell, restart, shut down; kill -9 of the wrapper
leaves no inner kernel; a dead inner kernel makes the wrapper exit. Each check
raises with a message naming what failed; exit status 0 means all passed.
The "inner kernel" is the process that runs the code (its os.getpid()); it
must be a child of the process jupyter_client started (the wrapper), which
shows the wrapper really sits in between. --bare runs the same steps on an
unwrapped kernel (there the two are one process), as the control."""

import os
import signal
import sys
import time

from jupyter_client.manager import start_new_kernel

TIMEOUT = 30
BARE = "--bare" in sys.argv[2:]


def step(name):
    print("lifecycle: " + name, file=sys.stderr, flush=True)


def run(kc, code):
    reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=lambda m: None)
    return reply["content"]


def inner_pid(kc):
    pid = kc.execute_interactive("import os; _hush_pid = os.getpid()", timeout=TIMEOUT,
                                 user_expressions={"p": "_hush_pid"}, output_hook=lambda m: None)
    return int(pid["content"]["user_expressions"]["p"]["data"]["text/plain"])


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def gone(pid):
    """True when pid no longer runs (absent, or a zombie nobody reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            raise AssertionError("%s (pid %d) still runs %ds later" % (what, pid, timeout))
        time.sleep(0.05)


def check_wrapped(km, kc):
    wrapper = km.provisioner.process.pid
    inner = inner_pid(kc)
    if BARE:
        if inner != wrapper:
            raise AssertionError("a bare kernel runs code in another process than the one started")
        return wrapper, inner
    if inner == wrapper or parent_of(inner) != wrapper:
        raise AssertionError("the code ran in pid %d, parent %d: not a child of the wrapper %d"
                             % (inner, parent_of(inner), wrapper))
    return wrapper, inner


def interrupt(km, kc):
    step("interrupt a time.sleep(60) cell")
    msg_id = kc.execute("import time; time.sleep(60)")
    deadline = time.monotonic() + TIMEOUT
    while True:  # wait until the cell runs
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
        if time.monotonic() > deadline:
            raise AssertionError("the sleep cell never started")
    time.sleep(0.5)
    start = time.monotonic()
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=15)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    content = reply["content"]
    if content["status"] != "error" or content.get("ename") != "KeyboardInterrupt":
        raise AssertionError("interrupted cell replied %s %s" % (content["status"], content.get("ename")))
    if time.monotonic() - start > 10:
        raise AssertionError("the interrupt took %.1fs" % (time.monotonic() - start))
    # ipykernel aborts requests that arrive while it still handles the
    # error of the interrupted cell (stop_on_error): try again once.
    after = run(kc, "1")
    if after["status"] == "aborted":
        time.sleep(0.5)
        after = run(kc, "1")
    if after["status"] != "ok":
        raise AssertionError("the kernel does not run cells after the interrupt: %s %s %s"
                             % (after["status"], after.get("ename"), after.get("evalue")))


def restart(km, kc):
    step("restart")
    old_wrapper, old_inner = check_wrapped(km, kc)
    run(kc, "before_restart = 1")
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=TIMEOUT)
    wait_gone(old_inner, "the inner kernel before the restart")
    wait_gone(old_wrapper, "the wrapper before the restart")
    check_wrapped(km, kc)
    content = run(kc, "before_restart")
    if content["status"] != "error" or content.get("ename") != "NameError":
        raise AssertionError("after the restart the old namespace is still there: %s" % content["status"])


def shutdown(km, kc):
    step("shutdown")
    wrapper, inner = check_wrapped(km, kc)
    proc = km.provisioner.process
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    if proc.returncode is None:
        proc.wait(10)
    if proc.returncode < 0:
        raise AssertionError("the wrapper did not exit by itself on shutdown_request: killed by signal %d"
                             % -proc.returncode)
    wait_gone(inner, "the inner kernel after shutdown")


def kill_wrapper(kernel_name):
    step("kill -9 of the wrapper")
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    wrapper, inner = check_wrapped(km, kc)
    kc.stop_channels()
    os.kill(wrapper, signal.SIGKILL)
    km.provisioner.process.wait(10)
    try:
        wait_gone(inner, "the inner kernel after kill -9 of the wrapper")
    finally:
        if not gone(inner):
            os.kill(inner, signal.SIGKILL)
        km.cleanup_resources()


def kill_inner(kernel_name):
    step("kill -9 of the inner kernel")
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    wrapper, inner = check_wrapped(km, kc)
    kc.stop_channels()
    os.kill(inner, signal.SIGKILL)
    try:
        km.provisioner.process.wait(10)
    except Exception:
        raise AssertionError("the wrapper still runs 10s after its inner kernel died")
    finally:
        if km.provisioner.process.poll() is None:
            km.provisioner.process.kill()
        km.cleanup_resources()


def main():
    kernel_name = sys.argv[1]
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    try:
        interrupt(km, kc)
        restart(km, kc)
        shutdown(km, kc)
    finally:
        if km.is_alive():
            km.shutdown_kernel(now=True)
    kill_wrapper(kernel_name)
    kill_inner(kernel_name)
    step("all passed")


if __name__ == "__main__":
    main()
