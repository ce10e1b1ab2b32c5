"""The jupyter_kernel_test conformance suite, run against a bare ipykernel and
the same ipykernel wrapped by `hush kernel run`: one test class, two kernel
names (HUSH_BARE_KERNEL, HUSH_WRAPPED_KERNEL). Run as a script it prints one
JSON object, {class: {test: outcome}}, that the Go test compares; the
wrapped kernel must pass every test the bare one passes."""

import json
import os
import sys
import unittest

import jupyter_kernel_test


class IPyKernelConformance(jupyter_kernel_test.KernelTests):
    """The samples of ipykernel's own conformance test."""

    __test__ = False  # only the two named subclasses run
    language_name = "python"
    file_extension = ".py"
    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('conformance')"
    code_execute_result = [{"code": "1+2+3", "result": "6"}, {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"}]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"


class Bare(IPyKernelConformance):
    __test__ = True
    kernel_name = os.environ.get("HUSH_BARE_KERNEL", "python3")


class Wrapped(IPyKernelConformance):
    __test__ = True
    kernel_name = os.environ.get("HUSH_WRAPPED_KERNEL", "hush-python3")


class _Recorder(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcomes = {}

    def _put(self, test, outcome):
        if isinstance(test, unittest.case._SubTest):  # a skipped history operation
            test = test.test_case
        cls, name = type(test).__name__, test._testMethodName
        self.outcomes.setdefault(cls, {})[name] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._put(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._put(test, "fail")

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.TestCase):
            self._put(test, "error")
        else:  # setUpClass failed: the kernel did not start
            self.outcomes.setdefault(str(test), {})["setUpClass"] = "error"

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._put(test, "skip")


if __name__ == "__main__":
    loader = unittest.TestLoader()
    suite = unittest.TestSuite([loader.loadTestsFromTestCase(Bare), loader.loadTestsFromTestCase(Wrapped)])
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=_Recorder)
    result = runner.run(suite)
    print(json.dumps(result.outcomes, sort_keys=True))
