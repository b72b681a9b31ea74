"""cuBLAS fp32 (TF32 off) throughput on the shapes `rerank-lab bench --matmul` times, for side-by-side ratios on the
lent GPU machine (scripts/device-bench.sh). Not a check: it needs a CUDA GPU and prints one JSON line per shape.

  python3 bench_torch_matmul.py [--tokens 16384] [--hidden 768] [--intermediate 3072] [--squares 1024 2048 4096]
"""
import argparse, json, torch


def timed(fn, budget_ms=300.0):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(); fn(); end.record(); torch.cuda.synchronize()
    once = max(start.elapsed_time(end), 1e-3)
    reps = max(1, min(50, round(budget_ms / once)))
    start.record()
    for _ in range(reps):
        fn()
    end.record(); torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=16384)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--intermediate", type=int, default=3072)
    p.add_argument("--squares", type=int, nargs="*", default=[1024, 2048, 4096])
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = "cuda"
    rows = []
    for n in a.squares:
        x = torch.randn(n, n, device=dev)
        rows.append(("square", f"{n}^3", 2 * n ** 3, lambda x=x: x @ x))
    T, H, I = a.tokens, a.hidden, a.intermediate
    for name, N, K in [("qkv", 3 * H, H), ("attn.out", H, H), ("ffn.in", I, H), ("ffn.out", H, I)]:
        X, W, b = torch.randn(T, K, device=dev), torch.randn(N, K, device=dev), torch.randn(N, device=dev)
        dY, dW = torch.randn(T, N, device=dev), torch.zeros(N, K, device=dev)
        rows.append(("layer", f"{name} Y = X.W^T + b {T}x{N}x{K}", 2 * T * N * K, lambda X=X, W=W, b=b: torch.addmm(b, X, W.t())))
        rows.append(("layer", f"{name} dX = dY.W {T}x{K}x{N}", 2 * T * N * K, lambda dY=dY, W=W: dY @ W))
        rows.append(("layer", f"{name} dW += dY^T.X {N}x{K}x{T}", 2 * T * N * K, lambda dY=dY, X=X, dW=dW: dW.addmm_(dY.t(), X)))
    for group, name, flops, fn in rows:
        ms = timed(fn)
        print(json.dumps({"group": group, "shape": name, "ms": round(ms, 4), "tflops": round(flops / ms / 1e9, 2)}), flush=True)


if __name__ == "__main__":
    main()
