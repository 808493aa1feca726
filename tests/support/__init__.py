"""Test support for fastric's end-to-end suite: a recording fake Runtime API and comparison helpers.

Modules:

- ``runtime_api_fake``: :class:`FakeRuntimeAPI`, :class:`Invocation`, :class:`Fault`, :func:`run_runtime`.
- ``compare``: request normalisation for differential tests and the single ``KNOWN_DIFFERENCES`` list.
- ``cases``: loader for the shared bug-report cases copied into ``tests/fixtures/cases``.
"""
