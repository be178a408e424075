"""fhez vs TenSEAL on TenSEAL's encrypted-convolution MNIST tutorial: the same weights, the
same images, one run, both libraries side by side; prints the ratios and writes JSON.

Run from the repository root, in a venv holding tenseal 0.3.18 and the fhez wheel
(`bash examples/python/run_compare.sh` sets that up):

    python examples/python/compare_tenseal.py --n-test 20 --out docs/results/python-vs-tenseal.json

Data and weights: the peer bench's script (`../shared/bench/peers/mnist_cnn.py`, found via
--peers): scikit-learn's digits upsampled to 28x28 (the MNIST circuit's exact shape), its
NumPy trainer, its TenSEAL network and parameters (N = 8192, [31, 26×6, 31], scale 2^26).
Both libraries run on one thread (TenSEAL n_threads=1, RAYON_NUM_THREADS=1).
"""

import argparse
import importlib.util
import inspect
import io
import json
import os
import platform
import statistics
import sys
import time
import tokenize

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import fhez  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mnist_cnn import encrypted_predictions  # noqa: E402


def tenseal_predictions(params, images, k=7, s=3):
    import tenseal as ts

    Wc, bc, W1, b1, W2, b2 = params
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192,
                     coeff_mod_bit_sizes=[31, 26, 26, 26, 26, 26, 26, 31], n_threads=1)
    ctx.global_scale = 2 ** 26
    ctx.generate_galois_keys()
    conv_w, conv_b = [w.reshape(k, k).tolist() for w in Wc], bc.tolist()
    fc1_w, fc1_b, fc2_w, fc2_b = W1.tolist(), b1.tolist(), W2.tolist(), b2.tolist()
    for image in images:
        enc_x, windows_nb = ts.im2col_encoding(ctx, image.tolist(), k, k, s)
        chans = [enc_x.conv2d_im2col(kern, windows_nb) + b for kern, b in zip(conv_w, conv_b)]
        x = ts.CKKSVector.pack_vectors(chans)
        x.square_()
        x = x.mm(fc1_w) + fc1_b
        x.square_()
        x = x.mm(fc2_w) + fc2_b
        yield np.asarray(x.decrypt()[:10])


def code_lines(fn):
    """Lines of code of a function: no blank lines, comments or docstrings."""
    src = inspect.getsource(fn)
    lines = set()
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.STRING and prev in (tokenize.INDENT, tokenize.NEWLINE, None):
            prev = tok.type
            continue
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            lines.update(range(tok.start[0], tok.end[0] + 1))
        prev = tok.type
    return len(lines)


def interleaved(gens, n):
    """Runs the generators in lockstep, one image each in turn, so that both see the same
    machine load. The first item of each is its setup (keys) plus image 0; then one
    timing per image. Returns (logits, per-image ms, setup s) per generator."""
    outs = [[] for _ in gens]
    times = [[] for _ in gens]
    setup = []
    for g, out in zip(gens, outs):
        a = time.perf_counter()
        out.append(next(g))
        setup.append(time.perf_counter() - a)
    for _ in range(n - 1):
        for g, out, ts in zip(gens, outs, times):
            a = time.perf_counter()
            out.append(next(g))
            ts.append((time.perf_counter() - a) * 1e3)
    return [(np.asarray(o), t, s) for o, t, s in zip(outs, times, setup)]


def fhez_batch(params, images, k=7, s=3):
    """Throughput: every test image in one batch-in-slots request."""
    Wc, bc, W1, b1, W2, b2 = params
    net = fhez.sequential(images.shape[1:], [fhez.Conv2d(Wc.reshape(-1, k, k), bc, (s, s)), fhez.Square(),
                                             fhez.Dense(W1, b1), fhez.Square(), fhez.Dense(W2, b2)])
    model = net.plan("batch-in-slots", batch=len(images), precision_bits=16)
    client = model.keygen()
    server = fhez.Server(model, client.public_bundle())
    a = time.perf_counter()
    reply = server.evaluate(client.encrypt(images))
    logits = client.decrypt(reply)["Decrypt"]
    return logits, (time.perf_counter() - a) * 1e3


def fhez_plans(params, images, k=7, s=3):
    """The single-input plans of both release policies: ring, chain, promised bits."""
    Wc, bc, W1, b1, W2, b2 = params
    net = fhez.sequential(images.shape[1:], [fhez.Conv2d(Wc.reshape(-1, k, k), bc, (s, s)), fhez.Square(),
                                             fhez.Dense(W1, b1), fhez.Square(), fhez.Dense(W2, b2)])
    out = {}
    for release in ["shared", "private-only"]:
        plan = json.loads(net.plan("single-input", precision_bits=16, release=release).plan_json())
        out[release] = {"log_n": plan["log_n"], "log_q": plan["log_q"], "log_p": plan["log_p"],
                        "precision_bits": plan["release"]["precision_bits"],
                        "rotation_keys": len(plan["rotation_steps"])}
    return out


def find_peers(arg):
    for c in [arg, "../shared/bench/peers", "../../shared/bench/peers", "/work/shared/bench/peers"]:
        if c and os.path.isfile(os.path.join(c, "mnist_cnn.py")):
            return c
    sys.exit("mnist_cnn.py of the peer bench not found: pass --peers DIR")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-test", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    # The peer script has the same file name as ours: load it under another name.
    spec = importlib.util.spec_from_file_location(
        "peer_mnist_cnn", os.path.join(find_peers(args.peers), "mnist_cnn.py"))
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    import tenseal as ts

    side, k, s, C, hidden = peer.VARIANTS["up28"]
    Xtr, Xte, ytr, yte = peer.load_data(side, args.seed)
    params, _ = peer.train(Xtr, ytr, k, s, C, hidden, args.epochs, args.seed)
    # As the peer script: keep the logits inside TenSEAL's last-level headroom.
    cols_tr, cols_te = peer.im2col(Xtr, k, s), peer.im2col(Xte, k, s)
    div = max(1.0, float(np.max(np.abs(peer.forward(params, cols_tr)))) / 12.0)
    params[4], params[5] = params[4] / div, params[5] / div
    n = min(args.n_test, len(Xte))
    images, labels = Xte[:n], yte[:n]
    plain = peer.forward(params, cols_te[:n])

    (t_logits, t_times, t_setup), (f_logits, f_times, f_setup), (p_logits, p_times, p_setup) = interleaved(
        [tenseal_predictions(params, images), encrypted_predictions(params, images),
         encrypted_predictions(params, images, release="private-only")], n)
    b_logits, b_ms = fhez_batch(params, Xte, k, s)

    def summary(logits, times, setup):
        return {
            "median_ms_per_image": round(statistics.median(times), 2) if times else None,
            "min_ms_per_image": round(min(times), 2) if times else None,
            "setup_plus_first_image_s": round(setup, 3),
            "accuracy": float((logits.argmax(1) == labels).mean()),
            "agreement_with_plaintext": float((logits.argmax(1) == plain.argmax(1)).mean()),
            "max_abs_logit_error": float(np.max(np.abs(logits - plain))),
        }

    res = {
        "what": "TenSEAL's encrypted-convolution MNIST tutorial network, fhez Python API vs TenSEAL, same weights and images",
        "network": "conv(1->4, 7x7, stride 3) -> x^2 -> FC 256->64 -> x^2 -> FC 64->10 on 28x28 (digits upsampled)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other builds; one thread per library; images interleaved",
        "versions": {"tenseal": ts.__version__, "fhez": fhez.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "n_images": n,
        "user_code_lines": {"tenseal": code_lines(tenseal_predictions),
                            "fhez": code_lines(encrypted_predictions)},
        "tenseal": summary(t_logits, t_times, t_setup),
        "fhez_single_input": summary(f_logits, f_times, f_setup),
        "fhez_single_input_private_only": summary(p_logits, p_times, p_setup),
        "fhez_plans": fhez_plans(params, images),
        "fhez_batch_in_slots": {
            "images": len(Xte),
            "ms_total": round(b_ms, 1),
            "ms_per_image": round(b_ms / len(Xte), 3),
            "agreement_with_plaintext": float(
                (b_logits.argmax(1) == peer.forward(params, cols_te).argmax(1)).mean()),
        },
    }
    t, f = res["tenseal"]["median_ms_per_image"], res["fhez_single_input"]["median_ms_per_image"]
    res["ratios"] = {
        "lines_fhez_over_tenseal": round(res["user_code_lines"]["fhez"] / res["user_code_lines"]["tenseal"], 3),
        "speedup_single_input_per_image": round(t / f, 2) if t and f else None,
        "speedup_single_input_private_only_per_image": round(
            t / res["fhez_single_input_private_only"]["median_ms_per_image"], 2) if t else None,
        "speedup_single_input_per_image_min": round(
            res["tenseal"]["min_ms_per_image"] / res["fhez_single_input"]["min_ms_per_image"], 2),
        "speedup_batch_per_image": round(t / res["fhez_batch_in_slots"]["ms_per_image"], 1) if t else None,
    }
    print(json.dumps(res, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
