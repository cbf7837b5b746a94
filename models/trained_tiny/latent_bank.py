"""One-minute clips encoded once, kept on the training device, sampled as DiT training batches.

Rendering and encoding 72 frames a sample cost a GPU run about half of every DiT step (the
step of the model committed on 2026-11-30: 64 ms, each rendered batch serving 2 steps). A bank
of N whole minutes (fp16 latents, 480 KiB a clip: 8192 clips are 3.8 GiB) is rendered once,
at ~1/7 of the frames that run rendered, and every step then gathers its chunks from it: the
same sample structure (dataset.sample_chunk_indices), the same clip distribution, with
~4.5 shots a minute 8192 clips hold ~37 000 shots, far more than a 2 M-parameter denoiser
can memorise.

Next to each latent cell the bank keeps how much of it shows an object (the most any of its
8x8 pixels does over its 4 frames, as uint8: 30 KiB a clip), for train.py --object-weight.
"""

from __future__ import annotations

import time

import torch

import dataset
from autoencoder import encode_for_training


class LatentBank:
    def __init__(self, encoder, num_clips: int, generator: torch.Generator, device: torch.device,
                 clip_batch: int = 32, frames_per_render: int = 96, log=print):
        """Renders and encodes `num_clips` clips of dataset.MINUTE_CHUNKS chunks with `encoder`
        (standardised latents, as the DiT is trained on)."""
        start = time.perf_counter()
        latents_per_clip = dataset.MINUTE_CHUNKS * dataset.LATENTS_PER_CHUNK
        frames_total = latents_per_clip * dataset.FRAMES_PER_LATENT
        clips = dataset.sample_clips(num_clips, generator)
        self.classes = clips.cls.to(device)
        self.latents = None
        self.objects = torch.empty(num_clips, latents_per_clip, dataset.SIZE // 8, dataset.SIZE // 8,
                                   dtype=torch.uint8, device=device)
        for first in range(0, num_clips, clip_batch):
            part = clips.select(slice(first, first + clip_batch)).to(device)
            for f0 in range(0, frames_total, frames_per_render):
                frames, cover = dataset.clip_frames(part, min(frames_per_render, frames_total - f0), f0,
                                                    with_cover=True)
                z = encode_for_training(encoder, frames).to(torch.float16)
                if self.latents is None:
                    self.latents = torch.empty(num_clips, latents_per_clip, *z.shape[2:], dtype=torch.float16,
                                               device=device)
                l0 = f0 // dataset.FRAMES_PER_LATENT
                self.latents[first : first + len(part), l0 : l0 + z.shape[1]] = z
                cells = cover.unflatten(1, (-1, dataset.FRAMES_PER_LATENT)).amax(2)  # [B, L, 64, 64]
                cells = torch.nn.functional.max_pool2d(cells, 8)
                self.objects[first : first + len(part), l0 : l0 + z.shape[1]] = (255 * cells).round().to(torch.uint8)
            if first == 0 or (first // clip_batch) % 32 == 31:
                log(f"  latent bank: {first + len(part)}/{num_clips} clips, {time.perf_counter() - start:.0f} s")
        mib = self.latents.numel() * 2 / 2**20
        log(f"latent bank: {num_clips} one-minute clips, {mib:.0f} MiB of fp16 latents on {device}, "
            f"{time.perf_counter() - start:.0f} s")

    @classmethod
    def of_seed(cls, encoder, num_clips: int, seed: int, device: torch.device, cache_path=None,
                log=print) -> LatentBank:
        """The bank of the clips of `seed`. With cache_path: read from there when an earlier run
        of the same autoencoder wrote it (a resumed run on the same machine), else rendered and
        written there."""
        key = {"num_clips": num_clips, "seed": seed,
               "encoder": sum(float(p.double().sum()) for p in encoder.state_dict().values())}
        if cache_path is not None and cache_path.exists():
            saved = torch.load(cache_path, map_location=device, weights_only=False)
            if saved["key"] == key and "objects" in saved:
                bank = cls.__new__(cls)
                bank.latents, bank.classes, bank.objects = saved["latents"], saved["classes"], saved["objects"]
                log(f"latent bank: {num_clips} clips read from {cache_path}")
                return bank
        bank = cls(encoder, num_clips, torch.Generator().manual_seed(seed), device, log=log)
        if cache_path is not None:
            torch.save({"key": key, "latents": bank.latents, "classes": bank.classes, "objects": bank.objects},
                       cache_path)
        return bank

    def __len__(self) -> int:
        return self.latents.shape[0]

    def sample(self, batch: int, chunks: int, generator: torch.Generator):
        """(latents [B, K*F, C, H, W] float32, chunk_indices [B, K] on the CPU, classes [B], object
        cover [B, K*F, 1, H, W] in [0, 1]): chunks of random bank clips, chosen as the render-per-step
        path chooses them."""
        clip = torch.randint(0, len(self), (batch,), generator=generator)
        chunk_indices = dataset.sample_chunk_indices(batch, chunks, generator)
        frames = (chunk_indices[..., None] * dataset.LATENTS_PER_CHUNK
                  + torch.arange(dataset.LATENTS_PER_CHUNK)).flatten(1)
        dev = self.latents.device
        clip, frames = clip.to(dev), frames.to(dev)
        objects = self.objects[clip[:, None], frames].unsqueeze(2).float() / 255
        return self.latents[clip[:, None], frames].float(), chunk_indices, self.classes[clip], objects

