#!/usr/bin/env python3
"""NumPy re-implementation of Light Forcing's block selection (HSA + CAG),
written from the paper and its reference code (github chengtao-lv/LightForcing,
wan/modules/sparse_attention.py; /work/shared/ALGORITHMS.md "Light Forcing"),
independently of vdrt's C++.

It writes lightforcing_reference.txt, which tests/kernels/lightforcing_select_test.cpp
reads (CI needs neither NumPy nor this script; rerun it only to change the cases):

  cag <target> <base> <chunk_frames> <total_frames> <window> <n> s_0 .. s_{n-1}
  case <name> <grid_h> <grid_w> <block_size> <dim> <past_frames> <first_frame> <chunk_frames>
       <chunk> <seed> <keep_frames> <keep_sink> <keep_near> <compete> <target> <base>
       <cag_chunk_frames> <cag_total_frames> <cag_window>
  sel <query_frame> <query_block> <n> (<key_frame> <key_block>) * n
  end

Inputs come from a 64-bit LCG both sides implement (lcg_values): past keys
[past_frames * P, dim], this chunk's keys [chunk_frames * P, dim], then its
queries [chunk_frames * P, dim], token-major. Key frames are absolute:
past frames first_frame .., this chunk's frames after them (first_frame > 0
models a window + sink cache whose frames are not contiguous: frame 0 is the
sink, the window follows).

Selection per query block (mean-pooled q of the block's tokens):
  * blocks: 1-D runs of block_size tokens in token order, per frame (the last
    one short when P is not a multiple; block_size >= P: one block per frame);
  * budget: topk = int((1 - s_c) * K_all), K_all = every key block (cached and
    this chunk's), at least 1; s_c from CAG (below);
  * compete: this chunk's blocks are candidates like the cached ones (else they
    are attended densely and not part of the selection: vdrt's dense mode);
  * frame stage (keep_frames > 0 and more cached frames than keep_frames): the
    first keep_sink and the last keep_near cached frames, plus the top
    (keep_frames - keep_sink - keep_near) middle frames by pooled q . the
    frame's mean key; block top-k then only inside kept frames (+ this chunk);
  * scores: pooled q . pooled k, no scale; ties would go to the lower index
    (the script refuses inputs with near-ties at a cut, so float32 vs float64
    summation order cannot flip a selection).
CAG (Light Forcing): chunk 0 dense; frames_i = (i + 1) * chunk_frames,
kv_i = min(frames_i, window), s_i = base - beta / sqrt(frames_i),
beta = (sum (1 - target) kv_i - sum (1 - base) kv_i) / sum kv_i / sqrt(frames_i)
over chunks 1 .. total_frames / chunk_frames - 1.
"""
import math
import os

import numpy as np

MASK = (1 << 64) - 1


def lcg_values(seed, count):
    """float32 values in [-1, 1]: state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64),
    value = ((state >> 33) % 2001 - 1000) / 1000 in float32."""
    out = np.empty(count, dtype=np.float32)
    state = seed & MASK
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        out[i] = np.float32((state >> 33) % 2001 - 1000) / np.float32(1000)
    return out


def cag_beta(target, base, chunk_frames, total_frames, window):
    kv_sum = weighted = 0.0
    for i in range(1, total_frames // chunk_frames):
        frames = (i + 1) * chunk_frames
        kv = min(frames, window) if window > 0 else frames
        kv_sum += kv
        weighted += kv / math.sqrt(frames)
    return ((1 - target) * kv_sum - (1 - base) * kv_sum) / weighted


def cag_sparsity(chunk, target, base, chunk_frames, total_frames, window):
    if chunk <= 0:
        return 0.0
    return max(0.0, base - cag_beta(target, base, chunk_frames, total_frames, window) / math.sqrt((chunk + 1) * chunk_frames))


def frame_blocks(P, block_size):
    bs = min(block_size, P)
    return [np.arange(b, min(b + bs, P)) for b in range(0, P, bs)]


def top(scores, candidates, n, what):
    """The n best candidates (ascending); refuses a near-tie at the cut."""
    cand = sorted(candidates, key=lambda c: (-scores[c], c))
    if 0 < n < len(cand):
        gap = scores[cand[n - 1]] - scores[cand[n]]
        if gap < 1e-3:
            raise ValueError(f"near-tie at the {what} cut ({gap})")
    return sorted(cand[:n])


def make_case(name, grid_h, grid_w, block_size, dim, past_frames, first_frame, chunk_frames, chunk, seed,
              keep_frames, keep_sink, keep_near, compete, target, base, cag_chunk_frames, cag_total_frames,
              cag_window):
    P = grid_h * grid_w
    vals = lcg_values(seed, (past_frames + 2 * chunk_frames) * P * dim).astype(np.float64)
    kp = vals[: past_frames * P * dim].reshape(past_frames, P, dim)
    kc = vals[past_frames * P * dim: (past_frames + chunk_frames) * P * dim].reshape(chunk_frames, P, dim)
    q = vals[(past_frames + chunk_frames) * P * dim:].reshape(chunk_frames, P, dim)
    runs = frame_blocks(P, block_size)
    past_ids = list(range(past_frames))
    if first_frame > 0:  # frame 0 is the sink, the window starts at first_frame
        past_ids = [0] + [first_frame + f for f in range(past_frames - 1)]
    cur_ids = [past_ids[-1] + 1 + f if past_frames else f for f in range(chunk_frames)]
    # blocks: (frame id, block, pooled key, is_current, frame position among cached frames)
    blocks = []
    for f in range(past_frames):
        for b, r in enumerate(runs):
            blocks.append((past_ids[f], b, kp[f, r].mean(axis=0), False, f))
    for f in range(chunk_frames):
        for b, r in enumerate(runs):
            blocks.append((cur_ids[f], b, kc[f, r].mean(axis=0), True, -1))
    frame_mean = kp.mean(axis=1)  # [past_frames, dim]: the frame's mean key
    s = cag_sparsity(chunk, target, base, cag_chunk_frames, cag_total_frames, cag_window)
    k_all = len(blocks) if compete else past_frames * len(runs)
    topk = max(1, int((1 - s) * k_all))
    lines = [f"case {name} {grid_h} {grid_w} {block_size} {dim} {past_frames} {first_frame} {chunk_frames} {chunk} "
             f"{seed} {keep_frames} {keep_sink} {keep_near} {int(compete)} {target!r} {base!r} {cag_chunk_frames} "
             f"{cag_total_frames} {cag_window}"]
    for fq in range(chunk_frames):
        for bq, r in enumerate(runs):
            pq = q[fq, r].mean(axis=0)
            kept = list(range(past_frames))
            if keep_frames > 0 and past_frames > keep_frames:
                fs = frame_mean @ pq
                middle = kept[keep_sink: past_frames - keep_near]
                chosen = top(fs, middle, keep_frames - keep_sink - keep_near, "frame")
                kept = sorted(kept[:keep_sink] + chosen + kept[past_frames - keep_near:])
            cand = [i for i, blk in enumerate(blocks) if (blk[3] and compete) or (not blk[3] and blk[4] in kept)]
            scores = np.array([blk[2] @ pq for blk in blocks])
            sel = top(scores, cand, min(topk, len(cand)), "block")
            pairs = " ".join(f"{blocks[i][0]} {blocks[i][1]}" for i in sel)
            lines.append(f"sel {cur_ids[fq]} {bq} {len(sel)} {pairs}")
    lines.append("end")
    return lines


PUBLISHED = {
    (0.88, 0.98): [0, .827, .855, .872, .883, .892, .898],
    (0.8, 0.9): [0, .747, .775, .792, .803, .812, .818],
}


def main():
    out = []
    # CAG schedules: the published short/Hopper lists, and the long preset's (window 12 + sink 1, 63 frames).
    for (target, base, cf, total, window, n) in [(0.88, 0.98, 3, 21, 0, 7), (0.8, 0.9, 3, 21, 0, 7),
                                                 (0.85, 0.95, 3, 63, 13, 21)]:
        sched = [cag_sparsity(i, target, base, cf, total, window) for i in range(n)]
        if (target, base) in PUBLISHED:
            assert [round(x, 3) for x in sched] == PUBLISHED[(target, base)], sched
        out.append(f"cag {target!r} {base!r} {cf} {total} {window} {n} " + " ".join(repr(x) for x in sched))
    cases = [
        # point 1: this chunk's blocks compete, K_all counts every block; no frame stage
        dict(name="compete_budget", grid_h=4, grid_w=4, block_size=4, dim=8, past_frames=6, first_frame=0,
             chunk_frames=3, chunk=2, keep_frames=0, keep_sink=1, keep_near=0, compete=True, target=0.88, base=0.98),
        dict(name="compete_chunk0_dense", grid_h=4, grid_w=4, block_size=4, dim=8, past_frames=0, first_frame=0,
             chunk_frames=3, chunk=0, keep_frames=0, keep_sink=1, keep_near=0, compete=True, target=0.88, base=0.98),
        # point 3: the frame stage, short setting (keep 6 = 1 sink + 2 near + 3 chosen), one and two stages
        dict(name="frames_one_stage", grid_h=4, grid_w=4, block_size=4, dim=8, past_frames=6, first_frame=0,
             chunk_frames=3, chunk=2, keep_frames=6, keep_sink=1, keep_near=2, compete=True, target=0.88, base=0.98),
        dict(name="frames_two_stage", grid_h=4, grid_w=4, block_size=4, dim=8, past_frames=15, first_frame=0,
             chunk_frames=3, chunk=5, keep_frames=6, keep_sink=1, keep_near=2, compete=True, target=0.8, base=0.9),
        # point 3, long setting: window + sink cache (frame 0, then frames 7..), keep 3 = 1 + 1 + 1
        dict(name="frames_long_window", grid_h=4, grid_w=4, block_size=8, dim=8, past_frames=7, first_frame=6,
             chunk_frames=3, chunk=4, keep_frames=3, keep_sink=1, keep_near=1, compete=True, target=0.85, base=0.95,
             cag_total_frames=63, cag_window=10),
        # point 5: 1-D token blocks with a short last block (P = 20, blocks of 8: 8 + 8 + 4), and a block above the frame
        dict(name="token_blocks_short_tail", grid_h=4, grid_w=5, block_size=8, dim=8, past_frames=9, first_frame=0,
             chunk_frames=3, chunk=3, keep_frames=6, keep_sink=1, keep_near=2, compete=True, target=0.88, base=0.98),
        dict(name="token_blocks_clamped", grid_h=4, grid_w=4, block_size=64, dim=8, past_frames=9, first_frame=0,
             chunk_frames=3, chunk=3, keep_frames=0, keep_sink=1, keep_near=0, compete=True, target=0.8, base=0.9),
    ]
    for c in cases:
        c.setdefault("cag_chunk_frames", 3)
        c.setdefault("cag_total_frames", 21)
        c.setdefault("cag_window", 0)
        for seed in range(1, 200):
            try:
                out += make_case(seed=seed, **c)
                break
            except ValueError:
                continue
        else:
            raise RuntimeError(f"no seed without near-ties for {c['name']}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lightforcing_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
