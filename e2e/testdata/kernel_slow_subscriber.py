"""A frontend that stops reading iopub (hung, suspended, on a slow link) must
not stop the output of the others: ZeroMQ's PUB socket drops messages for
the slow subscriber only, so a bare kernel keeps publishing.

    kernel_slow_subscriber.py KERNEL_NAME LINES

Connects a second iopub subscriber that never reads, runs a cell printing
LINES lines of about 200 bytes through jupyter_client, and prints one JSON
object: {"lines": lines the reading client got, "status": the cell's
status, or "timeout"}."""

import json
import sys
import time

import zmq
from jupyter_client.manager import start_new_kernel

TIMEOUT = 120


def main():
    name, lines = sys.argv[1], int(sys.argv[2])
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
    info = km.get_connection_info()
    idle = zmq.Context.instance().socket(zmq.SUB)
    idle.setsockopt(zmq.SUBSCRIBE, b"")
    idle.connect("%s://%s:%d" % (info["transport"], info["ip"], info["iopub_port"]))
    time.sleep(1)  # let the subscription reach the publisher
    got = [0]

    def hook(msg):
        if msg["msg_type"] == "stream":
            got[0] += msg["content"]["text"].count("\n")

    code = "for i in range(%d):\n    print('line', i, 'x' * 200, flush=True)" % lines
    try:
        reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=hook)
        status = reply["content"]["status"]
    except TimeoutError:
        status = "timeout"
    finally:
        idle.close(0)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    json.dump({"lines": got[0], "status": status}, sys.stdout)


if __name__ == "__main__":
    main()
