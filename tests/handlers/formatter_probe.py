"""Probe of the root handler's formatter, as libraries see it (one scenario per invocation)."""

import logging

_original = {}


def _handler():
    return next(h for h in logging.getLogger().handlers if hasattr(h, "log_sink"))


def handler(event, context):
    case = event["case"]
    h = _handler()
    _original.setdefault("formatter", h.formatter)
    if case == "probe":
        fmt = h.formatter
        return {
            "handler_class": h.__class__.__name__,
            "type_is_logging_formatter": type(fmt) is logging.Formatter,
            "formatter_class": type(fmt).__name__,
            "fmt": getattr(fmt, "_fmt", None),
            "datefmt": fmt.datefmt,
            "style_fmt": fmt._style._fmt,
            # datadog-lambda's exact test before it replaces the formatter (its log injection)
            "datadog_check": any(
                x.__class__.__name__ == "LambdaLoggerHandler" and type(x.formatter) == logging.Formatter  # noqa: E721
                for x in logging.getLogger().handlers
            ),
        }
    if case == "log":
        logging.warning("plain record %s", "é")
    elif case == "install":
        h.setFormatter(logging.Formatter("CUSTOM %(levelname)s %(aws_request_id)s %(message)s\n"))
        logging.warning("after install")
    elif case == "restore":
        h.setFormatter(_original["formatter"])
        logging.warning("after restore")
    elif case == "datefmt":
        h.formatter.datefmt = "fixed"
        logging.warning("after datefmt")
    elif case == "style":
        h.formatter._style._fmt = "STYLE %(message)s\n"
        logging.warning("after style")
    elif case == "instance_method":
        h.formatter.formatMessage = lambda record: "METHOD " + record.getMessage() + "\n"
        logging.warning("after instance method")
    elif case == "class_format_time":
        old = logging.Formatter.formatTime
        logging.Formatter.formatTime = lambda self, record, datefmt=None: "CLASS-TIME"
        try:
            logging.warning("after class formatTime")
        finally:
            logging.Formatter.formatTime = old
    return case
