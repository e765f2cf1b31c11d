"""Time fit and predict of TorchClassifier against a hand-written torch loop, skorch and sklearn.

One command, one run, the same MLP (2 hidden layers of 128, ReLU, Adam lr=1e-3, batch 128, the
same number of epochs), the same standardised data::

    python benchmarks/bench_estimators.py            # digits and a 100k x 50 make_classification
    python benchmarks/bench_estimators.py --quick    # a smoke test in seconds

Contenders (every one single-threaded by default, so the numbers compare code, not cores):

- ``hand loop (Adam)`` / ``hand loop (fused Adam)``: tensors converted once, each epoch slices
  them by a shuffled index; the faster of the two is the reference for fit ratios.
- ``bare module``: the trained hand-loop module under ``torch.inference_mode()`` on batches of
  4096 rows, from float32 numpy to labels; the reference for predict ratios (``x bare``). The
  ``x own`` column times the same bare loop on each estimator's own trained ``module_``,
  alternately with the estimator's ``predict``: the estimator's overhead without the spread
  between two separately trained modules.
- ``TorchClassifier``: the reference estimator with ``scaler="passthrough"`` (the data is
  already standardised, as for everyone else); ``TorchClassifier (scaler)`` keeps its default
  ``StandardScaler`` to show what the integrated scaler costs.
- ``skorch``: ``NeuralNetClassifier(train_split=None)``, otherwise skorch's defaults.
- ``sklearn MLPClassifier``: ``solver="adam"``, made to run exactly the same number of epochs.

Each contender runs ``--runs`` times, interleaved (run 1 of everyone, then run 2, ...) so a
noisy machine slows everyone alike; the table shows medians and ratios to the references. A run's
predict time is the fastest of 5 timings, each the mean of enough calls to last 20 ms.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from reference_estimators import TorchClassifier
from reference_estimators.modules import MLP

HIDDEN = (128, 128)
LR = 1e-3
BATCH = 128
INFERENCE_BATCH = 4096


# -- contenders: each is fit(X, y, seed) -> predictor, predictor(X) -> labels ----------------------

def hand_loop(fused: bool):
    def fit(X, y, epochs, seed):
        torch.manual_seed(seed)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        module = MLP(X.shape[1], int(y.max()) + 1, hidden_sizes=HIDDEN)
        optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=fused)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            order = torch.randperm(len(X_t))
            for start in range(0, len(X_t), BATCH):
                rows = order[start:start + BATCH]
                optimizer.zero_grad()
                loss_fn(module(X_t[rows]), y_t[rows]).backward()
                optimizer.step()
        module.eval()
        return lambda X_new: bare_predict(module, X_new)
    return fit


def bare_predict(module, X):
    X_t = torch.from_numpy(X)
    with torch.inference_mode():
        return torch.cat([module(X_t[s:s + INFERENCE_BATCH]).argmax(1)
                          for s in range(0, len(X_t), INFERENCE_BATCH)]).numpy()


def reference(scaler):
    def fit(X, y, epochs, seed):
        model = TorchClassifier(module_params={"hidden_sizes": HIDDEN}, lr=LR, batch_size=BATCH,
                                max_epochs=epochs, scaler=scaler, random_state=seed)
        return model.fit(X, y).predict
    return fit


def skorch_net(X, y, epochs, seed):
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(MLP, module__n_features_in=X.shape[1], module__n_outputs=int(y.max()) + 1,
                              module__hidden_sizes=HIDDEN, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=LR, batch_size=BATCH, max_epochs=epochs,
                              train_split=None, iterator_train__shuffle=True, verbose=0)
    return net.fit(X, y).predict


def sklearn_mlp(X, y, epochs, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(HIDDEN, solver="adam", learning_rate_init=LR, batch_size=BATCH,
                          max_iter=epochs, n_iter_no_change=epochs + 1, tol=0.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y).predict


CONTENDERS = {
    "hand loop (Adam)": hand_loop(fused=False),
    "hand loop (fused Adam)": hand_loop(fused=True),
    "TorchClassifier": reference("passthrough"),
    "TorchClassifier (scaler)": reference(None),
    "skorch NeuralNetClassifier": skorch_net,
    "sklearn MLPClassifier": sklearn_mlp,
}
HAND = ("hand loop (Adam)", "hand loop (fused Adam)")


# -- measurement ------------------------------------------------------------------------------

def datasets(quick: bool):
    X, y = load_digits(return_X_y=True)
    yield "digits (1797 x 64)", X, y, (10 if quick else 50)
    n = 5_000 if quick else 100_000
    X, y = make_classification(n_samples=n, n_features=50, n_informative=20, n_classes=2,
                               random_state=0)
    yield f"make_classification ({n} x 50)", X, y, (2 if quick else 10)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(func, *args):
    start = clock()
    result = func(*args)
    return clock() - start, result


def calls_lasting(predict, X, min_seconds=0.02):
    """How many calls of ``predict(X)`` last ``min_seconds`` (one 0.3 ms call is at the mercy of a
    shared machine; 20 ms of calls are not), and the labels of one call."""
    once, labels = timed(predict, X)
    return max(1, math.ceil(min_seconds / max(once, 1e-6))), labels


def per_call(predict, X, calls):
    return timed(lambda: [predict(X) for _ in range(calls)])[0] / calls


def timed_predict(predict, X, repeats=5):
    """Seconds per call (the fastest of ``repeats`` timings) and the labels."""
    calls, labels = calls_lasting(predict, X)
    return min(per_call(predict, X, calls) for _ in range(repeats)), labels


def own_bare_ratio(predict, module, X, repeats=5):
    """``predict``'s time over the bare loop's on the same trained module, timed alternately.

    Two modules of one architecture, trained apart, can predict several per cent apart (where
    their weights landed in memory); the same module under both removes that spread.
    """
    bare = lambda X_new: bare_predict(module, X_new)  # noqa: E731
    calls, _ = calls_lasting(bare, X)
    pairs = [(per_call(predict, X, calls), per_call(bare, X, calls)) for _ in range(repeats)]
    return min(p for p, _ in pairs) / min(b for _, b in pairs)


def measure(X, y, epochs, runs):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = (scaler.transform(a).astype(np.float32) for a in (X_train, X_test))
    y_train = y_train.astype(np.int64)
    times = {name: {"fit": [], "predict": [], "own": [], "accuracy": []} for name in CONTENDERS}
    for run in range(runs):
        for name, fit in CONTENDERS.items():
            fit_s, predict = timed(fit, X_train, y_train, epochs, run)
            predict(X_test[:10])  # warm up the first call's allocations
            predict_s, labels = timed_predict(predict, X_test)
            record = times[name]
            record["fit"].append(fit_s)
            record["predict"].append(predict_s)
            record["accuracy"].append(float(np.mean(labels == y_test)))
            module = getattr(getattr(predict, "__self__", None), "module_", None)  # estimators' own
            if module is not None:
                record["own"].append(own_bare_ratio(predict, module, X_test))
    return {name: {k: statistics.median(v) if v else None for k, v in record.items()}
            for name, record in times.items()}


def table(title, epochs, runs, medians) -> str:
    fit_ref = min(medians[name]["fit"] for name in HAND)
    predict_ref = min(medians[name]["predict"] for name in HAND)  # both predict with the bare module
    lines = [f"{title}: {epochs} epochs, median of {runs} runs",
             f"{'':28s} {'fit s':>9s} {'x hand':>7s} {'predict ms':>11s} {'x bare':>7s} {'x own':>7s} "
             f"{'accuracy':>9s}"]
    for name in CONTENDERS:
        m = medians[name]
        own = "-" if m["own"] is None else f"{m['own']:.2f}"
        lines.append(f"{name:28s} {m['fit']:9.3f} {m['fit'] / fit_ref:7.2f} {m['predict'] * 1e3:11.2f} "
                     f"{m['predict'] / predict_ref:7.2f} {own:>7s} {m['accuracy']:9.4f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 runs, 5k rows: a smoke test")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: time.perf_counter (default); cpu: time.process_time, this "
                             "process's CPU time, steadier on a shared machine (use with --threads 1)")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    runs = args.runs or (2 if args.quick else 5)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    print(f"torch {torch.__version__}, threads={args.threads}, runs={runs}, clock={args.clock}")
    with threadpool_limits(args.threads):
        for title, X, y, epochs in datasets(args.quick):
            print(table(title, epochs, runs, measure(X, y, epochs, runs)), "\n", flush=True)


if __name__ == "__main__":
    main()
