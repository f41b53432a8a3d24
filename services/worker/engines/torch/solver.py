"""Caffe's Solver (solver.cpp + sgd_solver.cpp) over nets built by our PyTorch engine.

The loop, its order of effects and its log lines follow Caffe's `Solver::Step`, `Solver::Solve`,
`Solver::TestClassification`, `SGDSolver::ApplyUpdate` and the snapshot / restore functions, so a
solver prototxt trains the same way here as in Caffe and the worker can read either log with
`shared.caffe.log`. The net is anything with TorchNet's interface (`SolverNet`), which keeps the
solver testable on tiny hand-checkable nets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from google.protobuf import text_format
from torch import Tensor

from services.worker.engines.torch.glog import GlogWriter, cpp_float
from services.worker.engines.torch.lr_policy import LearningRate
from services.worker.engines.torch.snapshot import (
    SnapshotError,
    read_net_parameter,
    read_solver_state,
    snapshot_filename,
    solver_state_bytes,
    write_atomically,
)
from services.worker.engines.torch.solver_setup import (
    NetSpec,
    SolverError,
    check_snapshot_prefix,
    check_solver,
    resolve_nets,
    snapshot_prefix,
)
from services.worker.engines.torch.updates import UpdateRule, make_rule, solver_type
from shared.caffe.proto import caffe_pb2


class Action(Enum):
    """Caffe's SolverAction: what a signal asks the running solver to do."""

    NONE = "none"
    STOP = "stop"
    SNAPSHOT = "snapshot"


__all__ = ["Action", "NetFactory", "NetSpec", "Solver", "SolverError", "SolverNet", "check_snapshot_prefix"]


class OutputSpecLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def loss_weight(self) -> float: ...


class ParamSpecLike(Protocol):
    @property
    def layer_name(self) -> str: ...
    @property
    def blob_index(self) -> int: ...
    @property
    def param(self) -> Tensor: ...
    @property
    def lr_mult(self) -> float: ...
    @property
    def decay_mult(self) -> float: ...


class NetOutputLike(Protocol):
    @property
    def outputs(self) -> dict[str, Tensor]: ...
    @property
    def loss(self) -> Tensor: ...


class SolverNet(Protocol):
    """What the solver needs of a net (TorchNet provides it)."""

    @property
    def output_specs(self) -> Sequence[OutputSpecLike]: ...
    @property
    def learnable_params(self) -> Sequence[ParamSpecLike]: ...
    def forward(self) -> NetOutputLike: ...
    def load_blobs_from(self, net_param: caffe_pb2.NetParameter) -> None: ...
    def to_proto(self, include_blobs: bool = True) -> caffe_pb2.NetParameter: ...


NetFactory = Callable[[NetSpec], SolverNet]


@dataclass
class _SmoothedLoss:
    """Caffe's UpdateSmoothedLoss: the mean of the last `average_loss` losses, kept as a tensor.

    Keeping it on the net's device avoids a host sync per iteration (which costs on CUDA); it is
    read only when displayed.
    """

    window: int
    losses: list[Tensor] = field(default_factory=list)
    value: Tensor | None = None

    def reset(self) -> None:
        self.losses.clear()
        self.value = None

    def update(self, loss: Tensor, iteration: int, start_iter: int) -> None:
        if len(self.losses) < self.window:
            self.losses.append(loss)
            size = len(self.losses)
            previous = self.value if self.value is not None else torch.zeros_like(loss)
            self.value = (previous * (size - 1) + loss) / size
        else:
            index = (iteration - start_iter) % self.window
            assert self.value is not None
            self.value = self.value + (loss - self.losses[index]) / self.window
            self.losses[index] = loss

    def read(self) -> float:
        return 0.0 if self.value is None else float(self.value)


class Solver:
    """Trains `net` (built from the solver's train net) with Caffe's semantics."""

    def __init__(self, param: caffe_pb2.SolverParameter, net_factory: NetFactory, *,
                 solver_path: str | None = None, log: GlogWriter | None = None,
                 action: Callable[[], Action] | None = None) -> None:
        self.param = param
        self.log = log or GlogWriter()
        self.requested_action = action or (lambda: Action.NONE)
        self.iter = 0
        self.requested_early_exit = False
        check_solver(param)
        self.snapshot_prefix = snapshot_prefix(param, solver_path)
        self.type = solver_type(param)
        self.lr = LearningRate.from_solver(param, on_multistep=self._log_multistep)
        self.log.info("solver.cpp:51", "Initializing solver from parameters: \n"
                      + text_format.MessageToString(param))
        if param.random_seed >= 0:
            torch.manual_seed(param.random_seed)
            np.random.seed(param.random_seed % 2**32)
        train_spec, test_specs = resolve_nets(param)
        self.log.info("solver.cpp:89", train_spec.source)
        self.net_name = train_spec.param.name
        self.net = net_factory(train_spec)
        self.test_nets: list[SolverNet] = []
        for index, spec in enumerate(test_specs):
            self.log.info("solver.cpp:184", f"Creating test net (#{index}) specified by {spec.source}")
            self.test_nets.append(net_factory(spec))
        self.log.info("solver.cpp:63", "Solver scaffolding done.")
        specs = list(self.net.learnable_params)
        self.params = [spec.param for spec in specs]
        self.rule: UpdateRule = make_rule(param, self.params, [s.lr_mult for s in specs],
                                          [s.decay_mult for s in specs])
        self._shared = [_sharing_plan(specs, test_net) for test_net in self.test_nets]
        self._smoothed = _SmoothedLoss(max(1, param.average_loss))

    @property
    def last_loss(self) -> float:
        """The loss of the last iteration (mean over iter_size), before smoothing; syncs a GPU."""
        return float(self._last_loss)

    # -- starting points -------------------------------------------------------------------------

    def copy_weights(self, paths: Sequence[str]) -> None:
        """Fine-tune: copy blobs by layer name from each .caffemodel into every net (caffe.cpp)."""
        for path in paths:
            weights = read_net_parameter(path)
            for net in (self.net, *self.test_nets):
                net.load_blobs_from(weights)

    def restore(self, state_path: str) -> None:
        """Resume from a .solverstate: iteration, weights, lr step, history, data position."""
        state = read_solver_state(state_path)
        if len(state.history) != len(self.rule.history):
            raise SnapshotError(state_path, "Incorrect length of history blobs: the state has "
                                f"{len(state.history)}, the {self.type} solver of this net needs "
                                f"{len(self.rule.history)}")
        for index, (saved, mine) in enumerate(zip(state.history, self.rule.history, strict=True)):
            if saved.size != mine.numel():
                raise SnapshotError(state_path, f"history blob {index} has {saved.size} values, the "
                                    f"net's parameter has shape {list(mine.shape)}")
        if state.learned_net:
            self.net.load_blobs_from(read_net_parameter(_learned_net_path(state.learned_net,
                                                                          state_path)))
        with torch.no_grad():
            for saved, mine in zip(state.history, self.rule.history, strict=True):
                mine.copy_(torch.from_numpy(saved.reshape(tuple(mine.shape))))
        self.iter = state.iteration
        self.lr.current_step = state.current_step
        set_data_state = getattr(self.net, "set_data_state", None)
        if state.data_state is not None and set_data_state is not None:
            set_data_state(state.data_state)

    # -- the loop --------------------------------------------------------------------------------

    def solve(self, resume_file: str | None = None) -> None:
        self.log.info("solver.cpp:282", f"Solving {self.net_name}")
        self.log.info("solver.cpp:283", f"Learning Rate Policy: {self.param.lr_policy}")
        self.requested_early_exit = False
        if resume_file:
            self.log.info("solver.cpp:289", f"Restoring previous solver status from {resume_file}")
            self.restore(resume_file)
        start_iter = self.iter
        self.step(self.param.max_iter - self.iter)
        if self.param.snapshot_after_train and (
                not self.param.snapshot or self.iter % self.param.snapshot != 0):
            self.snapshot()
        if self.requested_early_exit:
            self.log.info("solver.cpp:304", "Optimization stopped early.")
            return
        display = self.param.display
        if display and self.iter % display == 0:
            with torch.no_grad():
                loss = self.net.forward().loss.detach().float()
            self._smoothed.update(loss, self.iter, start_iter)
            self.log.info("solver.cpp:320", f"Iteration {self.iter}, loss = "
                          f"{cpp_float(self._smoothed.read())}")
        if self.param.test_interval and self.iter % self.param.test_interval == 0:
            self.test_all()
        self.log.info("solver.cpp:325", "Optimization Done.")

    def step(self, iters: int) -> None:
        start_iter, stop_iter = self.iter, self.iter + iters
        self._smoothed.reset()
        timer, iterations_last = time.perf_counter(), self.iter
        param = self.param
        while self.iter < stop_iter:
            for p in self.params:
                p.grad = None
            if (param.test_interval and self.iter % param.test_interval == 0
                    and (self.iter > 0 or param.test_initialization)):
                self.test_all()
                if self.requested_early_exit:
                    break
            display = bool(param.display) and self.iter % param.display == 0
            output = self._forward_backward()
            self._smoothed.update(self._last_loss, self.iter, start_iter)
            if display:
                lapse = time.perf_counter() - timer
                per_s = (self.iter - iterations_last) / (lapse or 1.0)
                self.log.info("solver.cpp:231", f"Iteration {self.iter} ({cpp_float(per_s)} iter/s, "
                              f"{cpp_float(lapse)}s/{param.display} iters), loss = "
                              f"{cpp_float(self._smoothed.read())}")
                timer, iterations_last = time.perf_counter(), self.iter
                values = [v.tolist() for v in _output_values(self.net, output.outputs)]
                self._log_scores("solver.cpp:247", "Train", self.net, values)
            self.apply_update(display)
            self.iter += 1
            request = self.requested_action()
            if (param.snapshot and self.iter % param.snapshot == 0) or request is Action.SNAPSHOT:
                self.snapshot()
            if request is Action.STOP:
                self.requested_early_exit = True
                break

    def _forward_backward(self) -> NetOutputLike:
        iter_size = self.param.iter_size
        total: Tensor | None = None
        output: NetOutputLike | None = None
        for _ in range(iter_size):
            output = self.net.forward()
            torch.autograd.backward(output.loss)
            loss = output.loss.detach().float()
            total = loss if total is None else total + loss
        assert output is not None and total is not None
        self._last_loss = total / iter_size if iter_size != 1 else total
        return output

    def apply_update(self, display: bool) -> None:
        rate = self.lr.rate(self.iter)
        if display:
            self.log.info("sgd_solver.cpp:106", f"Iteration {self.iter}, lr = {cpp_float(rate)}")
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        self.rule.apply(grads, rate, self.iter)
        if self.rule.clip_message:
            self.log.info("sgd_solver.cpp:92", self.rule.clip_message)

    def _log_multistep(self, iteration: int, step: int) -> None:
        self.log.info("sgd_solver.cpp:46", f"MultiStep Status: Iteration {iteration}, step = {step}")

    # -- testing ---------------------------------------------------------------------------------

    def test_all(self) -> None:
        for index in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(index)

    def test(self, index: int) -> None:
        """Caffe's TestClassification: mean of each output over test_iter forward passes."""
        self.log.info("solver.cpp:346", f"Iteration {self.iter}, Testing net (#{index})")
        test_net = self.test_nets[index]
        self._share_weights(index)
        totals: list[Tensor] | None = None
        loss: Tensor | None = None
        iterations = self.param.test_iter[index]
        with torch.no_grad():
            for _ in range(iterations):
                if self._handle_requests_while_testing():
                    break
                output = test_net.forward()
                if self.param.test_compute_loss:
                    loss = output.loss.float() if loss is None else loss + output.loss.float()
                values = _output_values(test_net, output.outputs)
                totals = values if totals is None else [t + v for t, v in zip(totals, values,
                                                                               strict=True)]
        if self.requested_early_exit:
            self.log.info("solver.cpp:395", "Test interrupted.")
            return
        if self.param.test_compute_loss and loss is not None:
            self.log.info("solver.cpp:400", f"Test loss: {cpp_float(float(loss) / iterations)}")
        if totals is not None:
            means = [(total / iterations).tolist() for total in totals]
            self._log_scores("solver.cpp:413", "Test", test_net, means)

    def _handle_requests_while_testing(self) -> bool:
        request = self.requested_action()
        while request is not Action.NONE:
            if request is Action.SNAPSHOT:
                self.snapshot()
            elif request is Action.STOP:
                self.requested_early_exit = True
            request = self.requested_action()
        return self.requested_early_exit

    def _share_weights(self, index: int) -> None:
        """Caffe's ShareTrainedLayersWith: the test net sees the train net's current weights."""
        plan = self._shared[index]
        if plan:
            with torch.no_grad():
                torch._foreach_copy_([dst for dst, _ in plan], [self.params[i] for _, i in plan])

    def _log_scores(self, where: str, kind: str, net: SolverNet, values: list[list[float]]) -> None:
        """`    Train/Test net output #k: name = v (* w = w*v loss)`, k running over all values."""
        score_index = 0
        for spec, blob in zip(net.output_specs, values, strict=True):
            for value in blob:
                message = f"    {kind} net output #{score_index}: {spec.name} = {cpp_float(value)}"
                if spec.loss_weight:
                    message += (f" (* {cpp_float(spec.loss_weight)} = "
                                f"{cpp_float(float(np.float32(spec.loss_weight) * np.float32(value)))}"
                                " loss)")
                self.log.info(where, message)
                score_index += 1

    # -- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> None:
        model = snapshot_filename(self.snapshot_prefix, self.iter, ".caffemodel")
        self.log.info("solver.cpp:581", f"Snapshotting to binary proto file {model}")
        write_atomically(model, self.net.to_proto(include_blobs=True).SerializeToString())
        state = snapshot_filename(self.snapshot_prefix, self.iter, ".solverstate")
        self.log.info("sgd_solver.cpp:273", f"Snapshotting solver state to binary proto file {state}")
        data_state = getattr(self.net, "data_state", None)
        payload = solver_state_bytes(self.iter, model, self.lr.current_step, self.rule.history,
                                     data_state() if data_state is not None else None)
        write_atomically(state, payload)


def _output_values(net: SolverNet, outputs: dict[str, Tensor]) -> list[Tensor]:
    """Each output blob's values, flattened, in output order (float64 to sum test scores exactly)."""
    return [outputs[spec.name].detach().reshape(-1).double().cpu() for spec in net.output_specs]


def _learned_net_path(learned_net: str, state_path: str) -> str:
    """The state's weights file: as written (Caffe), else beside the state file (moved snapshots)."""
    if Path(learned_net).is_file():
        return learned_net
    beside = Path(state_path).parent / Path(learned_net).name
    return str(beside) if beside.is_file() else learned_net


def _sharing_plan(specs: Sequence[ParamSpecLike], test_net: SolverNet) -> list[tuple[Tensor, int]]:
    """Which test-net blob mirrors which train-net parameter: same layer name and blob index."""
    by_key = {(s.layer_name, s.blob_index): i for i, s in enumerate(specs)}
    plan: list[tuple[Tensor, int]] = []
    for spec in test_net.learnable_params:
        index = by_key.get((spec.layer_name, spec.blob_index))
        if index is None or spec.param is specs[index].param:
            continue
        if tuple(spec.param.shape) != tuple(specs[index].param.shape):
            raise SolverError(f"Cannot share param {spec.blob_index} of layer {spec.layer_name!r} "
                              f"between the train net (shape {list(specs[index].param.shape)}) and a "
                              f"test net (shape {list(spec.param.shape)})")
        plan.append((spec.param, index))
    return plan
