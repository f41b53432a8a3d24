"""The `elasticthought` client commands as real processes against a real `elasticthought up --workers 1`.

An admin creates a tenant and its owner with `tenants create` / `users create`; the owner logs in
(the login file is 0600), uploads a small archive with `--wait`, builds a dataset, creates a
solver, submits a tiny job on the torch engine, follows its log live with `jobs logs -f` (which
ends by itself when the job does), waits for it with `jobs wait`, reads `jobs metrics --json` and
downloads the final snapshot, a caffemodel that parses as Caffe's NetParameter with the trained
layer's weights. A classifier made of the job labels a dark and a light image right, and downloads
as a tar.gz. Errors: an unknown job exits 3, a prototxt error and a webhook to a loopback address
exit 5, each with the server's problem detail on stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from shared.caffe.proto import caffe_pb2
from tests.e2e.processes import ELASTICTHOUGHT, Processes, free_port, wait_ready
from tests.support.archives import png_bytes, write_tar

pytestmark = pytest.mark.slow

ADMIN = "e2e-client-admin-" + "c" * 32
NET = """
name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        transform_param { scale: 0.00390625 } data_param { source: "train_lmdb" batch_size: 8 backend: LMDB } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
        transform_param { scale: 0.00390625 } data_param { source: "test_lmdb" batch_size: 4 backend: LMDB } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""
SOLVER = ('net: "tiny.prototxt"\ntest_iter: 2\ntest_interval: 10\nbase_lr: 0.05\nmomentum: 0.9\nlr_policy: "fixed"\n'
          'display: 5\nmax_iter: 20\nsnapshot: 10\nsnapshot_prefix: "tiny"\nsolver_mode: CPU\nrandom_seed: 3\n')


def write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """Two classes of 8x8 gray images (dark and light), the net and the solver."""
    entries = {f"shades/{name}/{n}.png": png_bytes(base + n, size=(8, 8))
               for name, base in (("dark", 20), ("light", 200)) for n in range(20)}
    archive = write_tar(folder / "shades.tar.gz", entries, "gz")
    (folder / "net.prototxt").write_text(NET)
    (folder / "solver.prototxt").write_text(SOLVER)
    return archive, folder / "solver.prototxt", folder / "net.prototxt"


class Cli:
    """Runs `elasticthought ...` as a process with its own config folder and no ET_* settings but ours."""

    def __init__(self, home: Path, **env: str) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ET_") or k.startswith("ET_TEST_")}
        self.env = {**inherited, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), **env}

    def run(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ELASTICTHOUGHT), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)

    def ok(self, *args: str, timeout_s: float = 120) -> str:
        done = self.run(*args, timeout_s=timeout_s)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(ELASTICTHOUGHT), *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.mark.timeout(900)
async def test_the_cli_trains_a_tiny_job_end_to_end_and_reports_errors_by_exit_code(
    processes: Processes, tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = processes.start("up", ["up", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--workers", "1",
                                "--slots", "1", "--admin-token", ADMIN], {})
    await wait_ready(up, f"{url}/readyz", timeout_s=60)
    archive, solver_file, net_file = write_inputs(tmp_path)
    admin = Cli(tmp_path / "admin", ET_URL=url, ET_TOKEN=ADMIN)
    owner = Cli(tmp_path / "owner")

    def step(cli: Cli, *args: str, timeout_s: float = 120) -> str:
        return cli.ok(*args, timeout_s=timeout_s)

    tenant_id = (await asyncio.to_thread(step, admin, "tenants", "create", "CLI Co")).strip()
    token = (await asyncio.to_thread(step, admin, "users", "create", tenant_id, "ann", "--role", "owner")).strip()
    assert token.startswith("et_")

    await asyncio.to_thread(step, owner, "login", "--url", url, "--token", token)
    config = tmp_path / "owner" / "config" / "elasticthought" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and json.loads(config.read_text())["url"] == url
    me = json.loads(await asyncio.to_thread(step, owner, "whoami", "--json"))
    assert (me["tenant_id"], me["role"]) == (tenant_id, "owner")

    datafile = json.loads(await asyncio.to_thread(step, owner, "datafiles", "upload", str(archive), "--wait",
                                                  "--poll", "0.3", "--json", timeout_s=240))
    assert datafile["state"] == "ready" and datafile["classes"] == {"dark": 20, "light": 20}
    dataset = json.loads(await asyncio.to_thread(
        step, owner, "datasets", "create", datafile["id"], "--width", "8", "--height", "8", "--color", "gray",
        "--seed", "1", "--wait", "--poll", "0.3", "--json", timeout_s=240))
    assert dataset["state"] == "ready" and dataset["shape"] == [1, 8, 8]
    solver_id = (await asyncio.to_thread(step, owner, "solvers", "create", "--solver", str(solver_file), "--net",
                                         str(net_file), "--dataset", dataset["id"], "-q")).strip()
    job_id = (await asyncio.to_thread(step, owner, "jobs", "submit", "--solver", solver_id, "--dataset",
                                      dataset["id"], "--engine", "torch")).strip()

    follower = owner.start("jobs", "logs", job_id, "-f")
    try:
        waited = await asyncio.to_thread(owner.run, "jobs", "wait", job_id, "--timeout", "400", "--poll", "0.5",
                                         timeout_s=450)
        log, follow_err = await asyncio.to_thread(follower.communicate, timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert waited.returncode == 0, f"{waited.stdout}\n{waited.stderr}\n{up.output_tail()}"
    assert follower.returncode == 0, follow_err
    assert "Iteration 20" in log and "Snapshotting to binary proto file" in log
    assert log == await asyncio.to_thread(step, owner, "jobs", "logs", job_id)  # the live copy is the whole log

    metrics = json.loads(await asyncio.to_thread(step, owner, "jobs", "metrics", job_id, "--json"))
    assert metrics["max_iter"] == 20 and metrics["train"] and "accuracy" in metrics["test"][-1]["outputs"]
    human = await asyncio.to_thread(step, owner, "jobs", "metrics", job_id)
    assert human.splitlines()[0].split()[:4] == ["ITERATION", "PHASE", "LOSS", "LR"]

    weights_path = tmp_path / "tiny.caffemodel"
    await asyncio.to_thread(step, owner, "snapshots", "download", job_id, "20", "-o", str(weights_path))
    weights = caffe_pb2.NetParameter()
    weights.ParseFromString(weights_path.read_bytes())
    [ip] = [layer for layer in weights.layer if layer.name == "ip"]
    assert list(ip.blobs[0].shape.dim) == [2, 64]

    classifier = json.loads(await asyncio.to_thread(step, owner, "classifiers", "create", job_id, "--json"))
    assert classifier["iteration"] == 20 and sorted(classifier["labels"]) == ["dark", "light"]
    dark, light = tmp_path / "dark.png", tmp_path / "light.png"
    dark.write_bytes(png_bytes(25, size=(8, 8)))
    light.write_bytes(png_bytes(210, size=(8, 8)))
    answers = json.loads(await asyncio.to_thread(step, owner, "classify", str(dark), str(light), "--classifier",
                                                 classifier["id"], "--top-k", "2", "--json"))
    assert [a["name"] for a in answers] == ["dark.png", "light.png"]
    assert [a["predictions"][0]["label"] for a in answers] == ["dark", "light"]
    bundle = tmp_path / "classifier.tar.gz"
    await asyncio.to_thread(step, owner, "classifiers", "download", classifier["id"], "-o", str(bundle))
    with tarfile.open(bundle) as members:
        assert {"deploy.prototxt", "labels.txt"} <= {Path(name).name for name in members.getnames()}

    private = await asyncio.to_thread(owner.run, "webhooks", "create", f"{url}/hook", "--event", "TrainingJob*")
    assert private.returncode == 5 and "422" in private.stderr, private.stderr
    missing = await asyncio.to_thread(owner.run, "jobs", "show", "no-such-job")
    assert missing.returncode == 3 and missing.stdout == ""
    assert "404 Not Found: no training job no-such-job" in missing.stderr
    bad = tmp_path / "bad.prototxt"
    bad.write_text("base_lr: 0.1\nmax_iter: {\n")
    refused = await asyncio.to_thread(owner.run, "solvers", "create", "--solver", str(bad), "--net", str(net_file))
    assert refused.returncode == 5 and "422" in refused.stderr and '"line": 2' in refused.stderr
    code, _ = up.stop()
    assert code == 0, up.output_tail()
