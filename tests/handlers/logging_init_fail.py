"""Handler module for tests/test_differential_logging.py whose import fails after writing output:
a print, records at three levels, a stderr write, then an exception (an init error)."""

import logging
import sys

print("printed during init")
logging.info("info during init")
logging.warning("warning during init \u00e9")
logging.getLogger("init").error("error during init %s", "x")
sys.stderr.write("stderr during init\n")
raise RuntimeError("init failed \u00e9")


def handler(event, context):  # never reached
    return None
