"""Training nets for the deploy-derivation tests (unit, and real Caffe in tests/integration/caffe)."""

from __future__ import annotations

PHASED = """
name: "Phased"
layer { name: "train_data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  transform_param { scale: 0.5 mirror: true crop_size: 10 }
  data_param { source: "train_lmdb" batch_size: 32 backend: LMDB } }
layer { name: "test_data" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.25 crop_size: 8 mean_value: 10 mean_value: 20 mean_value: 30 }
  data_param { source: "test_lmdb" batch_size: 10 backend: LMDB } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "drop" type: "Dropout" bottom: "conv" top: "conv" include { phase: TRAIN } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" exclude { phase: TRAIN } }
layer { name: "debug" type: "TanH" bottom: "conv" top: "conv" include { phase: TEST stage: "debug" } }
layer { name: "aux" type: "InnerProduct" bottom: "conv" top: "aux"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "aux_loss" type: "SoftmaxWithLoss" bottom: "aux" bottom: "label" top: "aux_loss" loss_weight: 0.3 }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "acc" include { phase: TEST } }
layer { name: "silence" type: "Silence" bottom: "label" include { phase: TEST } }
"""
"""Separate TRAIN/TEST data layers (the TEST one crops to 8 and subtracts per-channel means), a
TRAIN-only Dropout, a TEST-only ReLU by an exclude rule, a layer of a stage the deploy net is not
in, an auxiliary head with a lighter loss, an Accuracy and a Silence reading the label."""

V1_NET = """
name: "OldStyle"
layers { name: "data" type: DATA top: "data" top: "label"
  data_param { source: "lmdb" batch_size: 4 scale: 0.0078125 } }
layers { name: "ip1" type: INNER_PRODUCT bottom: "data" top: "ip1" blobs_lr: 1 blobs_lr: 2
  inner_product_param { num_output: 6 weight_filler { type: "gaussian" std: 0.1 } } }
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip2" bottom: "label" top: "loss" }
"""
"""A V1 (`layers`, enum types) net with the transform settings still inside data_param."""
