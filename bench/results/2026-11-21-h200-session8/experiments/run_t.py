"""Per-step clocks of the top-p path (fused entry, p = 0.9) from make_t.py's stamps."""
import os, sys, numpy as np, torch, rocsample
from rocsample.registry import ws_prefix_words, ws_words
st = torch.cuda.current_stream().cuda_stream
b = rocsample.backend()
tag = sys.argv[1]
names = ["scan", "p0 tail", "bounds", "p1 pick", "p1 stream", "select", "mass", "draw"]
slots = [0, 6, 7, 9, 10, 11, 12, 13, 14]
for (B, V) in [(264, 32000), (512, 32000), (264, 128256), (512, 128256), (512, 151936), (1, 128256), (128, 128256)]:
    g = torch.Generator(device="cuda").manual_seed(0)
    p = torch.softmax(torch.randn(B, V, device="cuda", generator=g) * 3, -1).contiguous()
    acc = []; gts = []
    for rep in range(6):
        e0 = torch.cuda.Event(enable_timing=True); e1 = torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(1000000); e0.record()
        rocsample.sample(p, seed=rep, stream=st, check_inputs=False, method="fused", top_p=0.9)
        e1.record(); torch.cuda.synchronize(); gts.append(e0.elapsed_time(e1) * 1000)
        ws = b._ws[st][0]
        n = ws_prefix_words(B) + B * ws_words(V)
        h = np.zeros(n, np.uint64)
        b.rt.copy_to_host(h.ctypes.data, ws.ptr, 8 * n)
        heads = h[ws_prefix_words(B):].reshape(B, ws_words(V))[:, :16].astype(np.int64)
        if rep >= 1:
            d = np.diff(heads[:, slots], axis=1)
            acc.append(d); 
    d = np.concatenate(acc)
    med = np.median(d, axis=0)
    gt = np.median(np.concatenate([0 * acc[0][:, 0] + 0]))
    tot = np.median(d.sum(1))
    ns = np.median(np.concatenate([x for x in [heads[:, 15]]]))
    print(f"{tag} {B}x{V}: event {np.median(gts):.1f} us | cycles/step " + " ".join(f"{n} {m:.0f}" for n, m in zip(names, med))
          + f" | total {tot:.0f} cyc, last-row ns {ns:.0f}", flush=True)
