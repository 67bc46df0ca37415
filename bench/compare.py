#!/usr/bin/env python3
"""Images per second of the zoo's networks in PyTorch, ONNX Runtime, tract, and our dynamic and generated models.

    python3 bench/compare.py [--threads N] [--images N] [--nets lenet5 keras_lenet5 tf2] [--data DIR]
                             [--seconds S] [--skip-rust] [--skip-train]

For each network (`cnn::zoo::LeNet5`, `KerasLeNet5`, `Tf2Net`; their PyTorch twins are in
bench/pytorch_twins.py) and each measurement, on real MNIST:
- batch1: inference, one image per call, on 1 thread (torch.inference_mode; ORT intra_op_num_threads=1);
- batch64, batch256: inference on N threads (torch.set_num_threads(N); ORT intra_op_num_threads=N);
- train: one epoch over the first --images training images (default all 60,000), shuffled, Adam 1e-3,
  cross-entropy on the logits, batch 64 (50 for tf2), on N threads. ONNX Runtime does not train here.
Inputs are normalised as our examples do: (x/255 - 0.1307)/0.3081 for lenet5, x/255 for the others.
An inference figure is the median of 5 runs of about --seconds/5 each, after a warm-up, cycling over
the test images. The ONNX models are exported with torch.onnx.export, and ORT's outputs are checked
against PyTorch's (within 1e-4) before anything is timed.

tract (the pure-Rust ONNX engine) runs the same ONNX files through bench/tract, a cargo package of its own
outside the workspace, so that nothing else ever compiles it; build it once with
    cargo build --release --manifest-path bench/tract/Cargo.toml
This script writes the normalised test images (raw little-endian f32) and PyTorch's outputs for the first
256 of them next to each ONNX file, and runs bench/tract/target/release/cnn-bench-tract for batch 1 on
1 thread and for batches 64 and 256 on N threads (tract's own rayon executor), then on 1 thread: where
that is faster, the table shows the 1-thread figure, marked *, and gives both below. The runner sets the
input to a fixed [batch, 1, 28, 28], optimises the model for it, and reports the median of 5 runs as
above, with its outputs' largest difference from PyTorch's (a figure off by more than 1e-4 is dropped).

Then, unless --skip-rust, it runs `cargo run --release --features dynamic,zoo --example throughput -- --json`
with the same threads, images and networks, and prints one table with the four engines' images per
second and the ratios generated/dynamic, generated/PyTorch, generated/ORT and generated/tract.
--skip-train leaves out the training epochs (PyTorch's, and the Rust example's with --images 0).

It installs and builds nothing: without torch it stops and says what to pip install; without onnxruntime
(or onnx) it says so and leaves the ORT column empty; without the tract runner it prints the command that
builds it and leaves the tract column empty.
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

NETS = ("lenet5", "keras_lenet5", "tf2")
NORMALIZE = {"lenet5": (0.1307, 0.3081), "keras_lenet5": (0.0, 1.0), "tf2": (0.0, 1.0)}
TRAIN_BATCH = {"lenet5": 64, "keras_lenet5": 64, "tf2": 50}
MEASUREMENTS = ("batch1", "batch64", "batch256", "train")
INFERENCE_BATCH = {"batch1": 1, "batch64": 64, "batch256": 256}
ENGINES = ("pytorch", "onnxruntime", "tract", "dynamic", "generated")
ORT_TOLERANCE = 1e-4
TRACT_TOLERANCE = 1e-4
TRACT_RUNNER = ROOT / "bench" / "tract" / "target" / "release" / "cnn-bench-tract"
TRACT_BUILD = "cargo build --release --manifest-path bench/tract/Cargo.toml"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for batch 64/256 and training")
    p.add_argument("--images", type=int, default=60000, help="training images in the timed epoch")
    p.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS))
    p.add_argument("--data", type=Path, help="MNIST directory (default $MNIST_DIR, else ../shared/data/mnist)")
    p.add_argument("--seconds", type=float, default=2.0, help="time per inference measurement")
    p.add_argument("--skip-rust", action="store_true", help="do not run the Rust throughput example")
    p.add_argument("--skip-train", action="store_true", help="measure inference only (no training epochs)")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------- setup


def import_torch():
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch   (then run this script again)")
    return torch


def import_ort():
    """onnxruntime, or None (with what to install) when it or onnx is missing."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import onnxruntime
    except ImportError as e:
        print(f"note: {e.name} is not installed, so there is no ONNX Runtime column: pip install onnxruntime onnx")
        return None
    return onnxruntime


def tract_runner():
    """The tract runner's path, or None (with the command that builds it) when it is not built or onnx is missing."""
    if not TRACT_RUNNER.exists():
        print(f"note: the tract runner is not built, so there is no tract column: {TRACT_BUILD}")
        return None
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
    except ImportError:
        print("note: onnx is not installed, so there is no tract column: pip install onnx")
        return None
    return TRACT_RUNNER


def cpu_description():
    """Model name, family/model and the vector flags that matter, from lscpu (else /proc/cpuinfo)."""
    fields = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    except (OSError, subprocess.CalledProcessError):
        try:
            text = Path("/proc/cpuinfo").read_text()
            info = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}
            fields = {"Model name": info.get("model name"), "CPU family": info.get("cpu family"),
                      "Model": info.get("model"), "Flags": info.get("flags", "")}  # fmt: skip
        except OSError:
            pass
    flags = set((fields.get("Flags") or "").split())
    present = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx512f", "avx2", "fma"))
    return (f"{fields.get('Model name', 'unknown')} (family {fields.get('CPU family', '?')}, "
            f"model {fields.get('Model', '?')}); {present}")  # fmt: skip


def mnist_dir(arg):
    if arg is not None:
        return arg.resolve()
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"]).resolve()
    return (ROOT / ".." / "shared" / "data" / "mnist").resolve()


def read_idx(directory, name):
    """The array of an IDX file, raw or gzipped (name without .gz)."""
    import numpy as np

    raw, gz = directory / name, directory / (name + ".gz")
    if gz.exists():
        data = gzip.open(gz, "rb").read()
    elif raw.exists():
        data = raw.read_bytes()
    else:
        sys.exit(f"MNIST file {name}(.gz) not found in {directory}: pass --data DIR or set MNIST_DIR")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(torch, directory, net):
    """(train images, train labels, test images) as float tensors N x 1 x 28 x 28, normalised for `net`."""
    mean, std = NORMALIZE[net]

    def images(name):
        x = torch.from_numpy(read_idx(directory, name).copy()).float().div_(255.0)
        return x.sub_(mean).div_(std).unsqueeze(1).contiguous()

    labels = torch.from_numpy(read_idx(directory, "train-labels-idx1-ubyte").astype("int64"))
    return images("train-images-idx3-ubyte"), labels, images("t10k-images-idx3-ubyte")


# ------------------------------------------------------------------------------------------- measuring


def images_per_second(call, batches, seconds):
    """Median images/s of `call(batch)` cycling over `batches`: 5 runs of about seconds/5, after a warm-up."""
    size = len(batches[0])
    for b in batches[:3]:
        call(b)
    start = time.perf_counter()
    call(batches[0])
    calls = max(1, int(seconds / 5 / max(time.perf_counter() - start, 1e-7)))
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(calls):
            call(batches[i % len(batches)])
        rates.append(calls * size / (time.perf_counter() - start))
    return statistics.median(rates)


def batches_of(x, size, count=256):
    """Up to `count` consecutive batches of `size` samples of x (views, or numpy slices)."""
    return [x[i : i + size] for i in range(0, min(len(x), size * count) - size + 1, size)]


def torch_inference(torch, model, test, threads, seconds):
    """{measurement: images/s} of PyTorch inference."""
    model.eval()
    results = {}
    with torch.inference_mode():
        for name, size in INFERENCE_BATCH.items():
            torch.set_num_threads(1 if size == 1 else threads)
            results[name] = images_per_second(model, batches_of(test, size), seconds)
    return results


def torch_train(torch, model, train_x, train_y, images, batch, threads, seed=0):
    """Images/s of one epoch over the first `images` training images: shuffled, Adam 1e-3, cross-entropy."""
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    logits = model[:-1] if isinstance(model[-1], nn.Softmax) else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = train_x[:images], train_y[:images]
    order = torch.randperm(len(x))
    model.train()
    start = time.perf_counter()
    for k in range(0, len(x), batch):
        idx = order[k : k + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(logits(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    if not torch.isfinite(loss):
        sys.exit("PyTorch training diverged (the loss is not finite)")
    return len(x) / seconds


def export_onnx(torch, model, path):
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: needs nothing beyond torch and onnx, and keeps the batch axis dynamic.
        torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)  # fmt: skip


def ort_session(ort, path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_max_difference(torch, ort, model, path, test):
    """Largest |ORT - PyTorch| over 256 test images."""
    x = test[:256]
    with torch.inference_mode():
        expected = model.eval()(x).numpy()
    got = ort_session(ort, path, 1).run(None, {"x": x.numpy()})[0]
    return float(abs(got - expected).max())


def ort_inference(ort, path, test, threads, seconds):
    """{measurement: images/s} of ONNX Runtime inference."""
    x = test.numpy()
    results = {}
    for name, size in INFERENCE_BATCH.items():
        session = ort_session(ort, path, 1 if size == 1 else threads)
        results[name] = images_per_second(lambda b: session.run(None, {"x": b}), batches_of(x, size), seconds)
    return results


def tract_inference(torch, runner, model, path, test, net, args):
    """{(engine, measurement): images/s} of tract on the ONNX file `path`, from the runner's JSON lines.

    Engine "tract" is batch 1 on 1 thread and batches 64 and 256 on --threads; with more than one thread,
    "tract 1 thread" is batches 64 and 256 on 1 thread as well, for the table to say whether tract's
    executor helped."""
    images, expected = path.with_suffix(".images.f32"), path.with_suffix(".expected.f32")
    test.numpy().astype("<f4").tofile(images)
    with torch.inference_mode():
        model.eval()(test[:256]).numpy().astype("<f4").tofile(expected)
    batched = ",".join(str(b) for b in INFERENCE_BATCH.values() if b > 1)
    runs = [("tract", "1", 1), ("tract", batched, args.threads)]
    if args.threads > 1:
        runs.append(("tract 1 thread", batched, 1))
    results = {}
    for engine, batches, threads in runs:
        cmd = [str(runner), "--model", str(path), "--images", str(images), "--expected", str(expected), "--json",
               "--input", "1,28,28", "--batch", batches, "--threads", str(threads), "--seconds", str(args.seconds),
               "--net", net]  # fmt: skip
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        except OSError as e:
            print(f"warning: cannot run the tract runner ({e}); the tract column stays empty")
            return {}
        if proc.returncode != 0:
            print(f"warning: {net}: the tract runner failed (exit {proc.returncode}); rebuild it? {TRACT_BUILD}")
            continue
        for line in proc.stdout.splitlines():
            r = json.loads(line) if line.startswith("{") else {}
            if "measurement" not in r:
                continue
            diff = r["max_abs_diff"]
            print(f"{net}: tract vs PyTorch at batch {r['batch']} on {threads} thread(s), largest difference over "
                  f"{r['checked_images']} test images {diff:.2e}")  # fmt: skip
            if diff <= TRACT_TOLERANCE:
                results[(engine, r["measurement"])] = r["images_per_second"]
            else:
                print(f"warning: {net}: tract's outputs differ from PyTorch's by {diff:.2e} > {TRACT_TOLERANCE}; "
                      f"its batch {r['batch']} figure is left out")  # fmt: skip
    return results


def python_side(torch, ort, tract, net, args, directory, workdir):
    """{(engine, measurement): images/s} for PyTorch, ONNX Runtime and tract on `net`."""
    from pytorch_twins import TWINS

    train_x, train_y, test = load_mnist(torch, directory, net)
    torch.manual_seed(1)
    model = TWINS[net]()
    results = {}
    path = workdir / f"{net}.onnx"
    if ort is not None or tract is not None:
        export_onnx(torch, model, path)
    if ort is not None:
        diff = ort_max_difference(torch, ort, model, path, test)
        print(f"{net}: ONNX Runtime vs PyTorch, largest difference over 256 test images {diff:.2e}")
        if not diff <= ORT_TOLERANCE:
            sys.exit(f"{net}: ONNX Runtime's outputs differ from PyTorch's by {diff:.2e} > {ORT_TOLERANCE}")
        for k, v in ort_inference(ort, path, test, args.threads, args.seconds).items():
            results[("onnxruntime", k)] = v
    if tract is not None:
        results.update(tract_inference(torch, tract, model, path, test, net, args))
    for k, v in torch_inference(torch, model, test, args.threads, args.seconds).items():
        results[("pytorch", k)] = v
    if args.skip_train:
        return results
    print(f"{net}: PyTorch training epoch over {min(args.images, len(train_x))} images…", flush=True)
    results[("pytorch", "train")] = torch_train(
        torch, model, train_x, train_y, args.images, TRAIN_BATCH[net], args.threads
    )
    return results


def rust_side(args, nets, directory):
    """{(net, engine, measurement): images/s} from the throughput example's JSON lines, or {} if it fails."""
    cmd = ["cargo", "run", "--release", "--features", "dynamic,zoo", "--example", "throughput", "--", "--json",
           "--threads", str(args.threads), "--images", str(0 if args.skip_train else args.images),
           "--net", ",".join(nets),
           "--seconds", str(args.seconds), "--data", str(directory)]  # fmt: skip
    print("running:", " ".join(cmd), flush=True)
    results = {}
    try:
        with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
            for line in proc.stdout:
                r = json.loads(line) if line.startswith("{") else {}
                if "measurement" in r:
                    results[(r["net"], r["engine"], r["measurement"])] = r["images_per_second"]
                    print(f"  {r['net']} {r['engine']} {r['measurement']}: {r['images_per_second']:,.0f} images/s",
                          flush=True)  # fmt: skip
    except OSError as e:
        print(f"warning: cannot run cargo ({e}); the Rust columns stay empty")
        return {}
    if proc.returncode != 0:
        print(f"warning: the throughput example failed (exit {proc.returncode}); the Rust columns stay empty")
        return {}
    return results


# ---------------------------------------------------------------------------------------------- report


def label(measurement, net, threads):
    if measurement == "batch1":
        return "infer batch 1, 1 thread"
    if measurement == "train":
        return f"train epoch, batch {TRAIN_BATCH[net]}, {threads} thr"
    return f"infer batch {INFERENCE_BATCH[measurement]}, {threads} thr"


def number(v):
    return "—" if v is None else f"{v:,.0f}"


def ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}x"


def print_table(nets, results, threads, skip_train=False):
    head = ["network", "measurement", "PyTorch", "ONNX Runtime", "tract", "dynamic", "generated",
            "gen/dyn", "gen/PyTorch", "gen/ORT", "gen/tract"]  # fmt: skip
    rows, notes = [], []
    for net in nets:
        for m in MEASUREMENTS if not skip_train else MEASUREMENTS[:-1]:
            py, ort, tract, dyn, gen = (results.get((net, e, m)) for e in ENGINES)
            tract_cell, tract1 = number(tract), results.get((net, "tract 1 thread", m))
            if tract1 is not None and (tract is None or tract1 > tract):
                # tract's executor did not help: show its 1-thread figure, marked, and both in the notes.
                notes.append(f"{net}, batch {INFERENCE_BATCH[m]}: {number(tract)} on {threads} threads, "
                             f"{number(tract1)} on 1")  # fmt: skip
                tract, tract_cell = tract1, number(tract1) + "*"
            rows.append([net, label(m, net, threads), number(py), number(ort), tract_cell, number(dyn),
                         number(gen), ratio(gen, dyn), ratio(gen, py), ratio(gen, ort), ratio(gen, tract)])  # fmt: skip
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(cells):
        padded = (c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "| " + " | ".join(padded) + " |"

    print()
    print("images per second (higher is better)")
    print(line(head))
    print("|" + "|".join("-" * (w + 1) + (":" if i >= 2 else "-") for i, w in enumerate(widths)) + "|")
    for r in rows:
        print(line(r))
    if notes:
        print(f"* tract on 1 thread, faster here than on {threads} threads with its own executor "
              f"(images/s: {'; '.join(notes)})")  # fmt: skip


def main():
    args = parse_args()
    torch = import_torch()
    ort = import_ort()
    directory = mnist_dir(args.data)
    print(f"CPU: {cpu_description()}")
    print(f"threads: {args.threads} (batch 1: 1); training images: {args.images}; MNIST: {directory}")
    tract = tract_runner()
    print(f"torch {torch.__version__}; onnxruntime {ort.__version__ if ort else 'not installed'}; "
          f"tract runner {tract.relative_to(ROOT) if tract else 'not built'}")  # fmt: skip
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (other work on the machine slows every column)")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for net in args.nets:
            for (engine, m), v in python_side(torch, ort, tract, net, args, directory, Path(workdir)).items():
                results[(net, engine, m)] = v
    if not args.skip_rust:
        results.update(rust_side(args, args.nets, directory))
    print_table(args.nets, results, args.threads, args.skip_train)
    if hasattr(os, "getloadavg"):
        print(f"load average after the run: {os.getloadavg()[0]:.2f} (about {args.threads} is this script alone)")


if __name__ == "__main__":
    main()
