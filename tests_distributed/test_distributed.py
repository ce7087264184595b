"""shenjing.distributed, DistributedDataParallel, DistributedSampler and the launcher on 2 real processes.

Run: ``python -m pytest tests_distributed`` (needs ``pip install mpi4py mpich``; skipped without them).
"""

from __future__ import annotations

import time

import pytest

# -- collectives ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_match_numpy(mpirun, n):
    result = mpirun("collectives.py", n=n).result()
    assert result["world"] == n
    expected = {"all_reduce SUM", "all_reduce AVG", "all_reduce MAX", "all_reduce MIN", "all_reduce PRODUCT",
                "all_reduce float64", "all_reduce int64 MAX", "all_reduce of a strided view", "all_reduce async_op",
                "reduce to 1", "all_gather", "all_gather_into_tensor", "gather", "scatter", "reduce_scatter_tensor",
                "barrier", "AVG on integers raises"} | {f"broadcast from {r}" for r in range(n)}
    assert expected <= set(result["checked"])


# -- DistributedDataParallel ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", "cnn_bn", "lstm"])
def test_ddp_training_equals_one_process_on_the_whole_batch(mpirun, model):
    """20 SGD steps (momentum 0.9) of DDP on 2 x 8 samples against one process on the 16 samples; the
    CNN's BatchNorm layers are converted to SyncBatchNorm (statistics of the whole batch)."""
    result = mpirun("ddp_equivalence.py", model, "20").result()
    print(result)
    assert result["rank_spread"] == 0.0  # the replicas stay identical
    assert result["max_param_diff"] < 2e-6 * max(1.0, result["param_scale"])  # float32 rounding
    assert result["max_buffer_diff"] < 1e-5  # SyncBatchNorm's running statistics


def test_no_sync_accumulates_locally_then_averages_the_sum(mpirun):
    result = mpirun("ddp_features.py", "no_sync").result()
    assert result["local_after_no_sync"] == 0.0
    assert result["averaged_after_sync"] < 1e-6


def test_find_unused_parameters(mpirun):
    result = mpirun("ddp_features.py", "unused").result()
    assert result["max_grad_diff"] < 1e-6
    assert result["never_grad_is_none"]


def test_unused_parameter_without_the_flag_is_named(mpirun):
    error = mpirun("ddp_features.py", "unused_without_flag").result()["error"]
    assert "never.weight" in error and "find_unused_parameters=True" in error


def test_broadcast_buffers(mpirun):
    result = mpirun("ddp_features.py", "buffers").result()
    on, off = result["broadcast=True"], result["broadcast=False"]
    assert on["differ_after_first_forward"] > 0 and off["differ_after_first_forward"] > 0  # local statistics
    assert on["differ_from_rank0_after_second"] == 0.0  # rank 0's at the start of the next forward
    assert off["differ_from_rank0_after_second"] > 0


def test_model_mismatch_is_named_at_construction(mpirun):
    error = mpirun("ddp_features.py", "mismatch").result()["error"]
    assert "same model on every rank" in error and "'1.weight (3, 5)" in error and "'1.weight (4, 5)" in error


def test_state_dict_prefix_and_forward_without_backward(mpirun):
    result = mpirun("ddp_features.py", "misuse").result()
    assert result["state_dict_keys"] == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
    assert "finished reduction in the prior iteration" in result["second_forward_error"]


# -- DistributedSampler and the launcher --------------------------------------------------------------


def test_sampler_partition_under_the_launcher(launcher):
    launched = launcher("--nproc-per-node", "2", "tests_distributed/scripts/sampler_partition.py")
    assert launched.returncode == 0, launched.stderr
    result = launched.result()
    assert result["length"] == 6 and result["env"] == [0, 0, 2]  # RANK, LOCAL_RANK, WORLD_SIZE as torchrun
    orders = []
    for rank0, rank1 in result["epochs"]:
        interleaved = [index for pair in zip(rank0, rank1) for index in pair]  # the shared order, padded
        assert sorted(interleaved[:11]) == list(range(11))  # a permutation of the 11 indices ...
        assert interleaved[11:] == interleaved[:1]  # ... padded with its first index to 12
        orders.append(interleaved)
    assert orders[0] != orders[1]  # set_epoch gives a new order


def test_launcher_passes_arguments_and_torchrun_variables(launcher, tmp_path):
    script = tmp_path / "show.py"
    # one write per line: with PYTHONUNBUFFERED (the fixture's) print() writes each piece on its own, and
    # mpiexec forwards the two ranks' pieces interleaved
    script.write_text("import os, sys\nsys.stdout.write(' '.join(['RANKLINE', os.environ['RANK'], "
                      "os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE'], os.environ['MASTER_PORT'], "
                      "str(sys.argv[1:])]) + '\\n')\nsys.stdout.flush()\n")
    launched = launcher("--nproc_per_node=2", "--nnodes", "1", "--master-port", "29611", str(script), "--lr", "0.1")
    assert launched.returncode == 0, launched.stderr
    lines = sorted(line for line in launched.stdout.splitlines() if line.startswith("RANKLINE"))
    assert lines == ["RANKLINE 0 0 2 29611 ['--lr', '0.1']", "RANKLINE 1 1 2 29611 ['--lr', '0.1']"]


# -- faults: never hang ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode, message", [
    ("raise", "rank 1 raised ValueError; aborting all 2 ranks"),
    ("kill", "Killed"),
    ("hang", "did not complete within the timeout of 3 s"),
])
def test_a_failing_rank_ends_the_job(mpirun, mode, message):
    start = time.monotonic()
    launched = mpirun("faults.py", mode, check=False, timeout=60)
    elapsed = time.monotonic() - start
    assert launched.returncode != 0
    assert message in launched.stdout + launched.stderr
    assert elapsed < 30, f"the job took {elapsed:.0f} s to end"


def test_a_rank_that_exits_under_the_launcher_ends_the_job(launcher):
    start = time.monotonic()
    launched = launcher("--nproc-per-node", "2", "tests_distributed/scripts/faults.py", "exit", timeout=60)
    assert launched.returncode != 0
    assert "rank 1 failed (exit status 2); aborting all 2 ranks" in launched.stderr
    assert time.monotonic() - start < 30


# -- shenjing train --nproc -----------------------------------------------------------------------------


def test_cli_train_lenet_on_two_processes(tmp_path):
    """One epoch of `shenjing train lenet --nproc 2`: rank 0 alone prints and saves a model that evaluates."""
    import subprocess
    import sys

    from conftest import MPIEXEC, environment

    if MPIEXEC is None:
        pytest.skip("mpi4py or mpiexec missing: pip install mpi4py mpich")
    out = tmp_path / "lenet.shenjing"
    launched = subprocess.run([sys.executable, "-m", "shenjing", "train", "lenet", "--nproc", "2", "--epochs", "1",
                               "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=300,
                              env=environment(), cwd=str(tmp_path))
    assert launched.returncode == 0, launched.stderr
    assert launched.stdout.count("test accuracy:") == 1 and "on 2 processes" in launched.stdout
    assert out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["lenet.shenjing"]  # no checkpoint left
    evaluated = subprocess.run([sys.executable, "-m", "shenjing", "evaluate", str(out), "--quiet"],
                               capture_output=True, text=True, timeout=120, env=environment())
    assert evaluated.returncode == 0, evaluated.stderr
    accuracy = float(evaluated.stdout.split("accuracy")[1].split("%")[0].strip(": "))
    assert accuracy > 60  # one epoch of the recipe on 4,000 digits: about 85%
