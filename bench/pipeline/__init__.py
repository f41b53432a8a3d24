"""Pipeline benchmark: submit-to-running latency, log-to-SSE latency, a fair drain, API memory.

Run it as `python -m bench.pipeline` (see `bench.pipeline.__main__`); each part's module says what
it measures and how. `python -m bench.pipeline.spawn` compares the ways a worker can start a
trainer (`bench.pipeline.spawn`).
"""
