"""Classify jobs on the worker: many images through a classifier, off the event loop, attempt-fenced."""
