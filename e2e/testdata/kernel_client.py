"""Runs cells on a kernel through jupyter_client, as a notebook frontend does,
and prints every message it received as JSON, for the Go tests to check.

    kernel_client.py KERNEL_NAME < cells.json

cells.json is a list of {"code": ..., "input": ...}: "input" answers the
cell's input() prompts. The output is one JSON object:
{"cells": [{"reply": <execute_reply content>, "messages": [<iopub and stdin
messages of the cell, in arrival order>]}]}. The test asserts on it, so this
script only drives the kernel and fails when the kernel does not answer."""

import json
import sys

from jupyter_client.manager import start_new_kernel

TIMEOUT = 60


def run_cell(kc, code, answer):
    got = []

    def on_output(msg):
        got.append({"channel": "iopub", "msg_type": msg["msg_type"], "content": msg["content"],
                    "metadata": msg.get("metadata", {})})

    def on_input(msg):
        got.append({"channel": "stdin", "msg_type": msg["msg_type"], "content": msg["content"],
                    "metadata": msg.get("metadata", {})})
        kc.input(answer if answer is not None else "")

    reply = kc.execute_interactive(code, allow_stdin=True, timeout=TIMEOUT, output_hook=on_output,
                                   stdin_hook=on_input)
    return {"reply": reply["content"], "messages": got}


def main():
    kernel_name = sys.argv[1]
    cells = json.load(sys.stdin)
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    try:
        out = [run_cell(kc, c["code"], c.get("input")) for c in cells]
    finally:
        kc.stop_channels()
        km.shutdown_kernel()
    json.dump({"cells": out}, sys.stdout, default=str)


if __name__ == "__main__":
    main()
