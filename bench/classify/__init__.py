"""Classify benchmark: single-image latency over real HTTP, and batch throughput vs hand-written PyTorch."""
