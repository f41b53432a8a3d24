"""Classifiers: a training job's net and snapshot made into something that labels images.

Used by the API (create, download, classify a few images at once) and by the workers (classify
jobs). One concept per module:

- `deploy`: the deploy net derived from the training net (pure prototxt -> prototxt), and the
  TEST data layer's input transform;
- `preprocess`: image bytes -> the array the net saw in training (the dataset builder's steps);
  `ImageUnusable` names an input that is not an image;
- `model`: `ClassifierModel` (deploy net on the torch engine + weights + labels) and the async
  `load_classifier(blobs, tenant_id, created)`; imports torch, so import it only where it runs;
- `cache`: a bounded LRU of loaded models with single-flight loading (no torch import);
- `errors`: `ClassifierLoadError` (no torch import).
"""
