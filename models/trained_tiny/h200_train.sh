#!/bin/bash
# One part of a DiT training longer than one call to the lent GPU (10 minutes a command).
#
#   bash models/trained_tiny/h200_train.sh 1   # autoencoder, latent bank, first DiT part
#   bash models/trained_tiny/h200_train.sh 2   # and 3, ...: resume where the last part stopped
#
# The run lives in /tmp/tt on the machine (it stays there while the machine is held, so a
# part that follows at once finds Adam's moments and the latent bank). $OUT/tt gets what comes
# back: autoencoder.pt, dit.pt (EMA), dit_train.pt (raw weights, generator states), the
# arguments and the log. A part on a fresh machine starts from .device/tt/, where the previous
# part's files are copied before the call.
# Environment: DIT_MINUTES (the planned DiT time over all parts, default 16), STOP_MINUTES
# (this part's DiT time, default 6.8 for part 1, 8.6 for the others), AE_MINUTES (1.5), DIT_STEPS
# (a resumed part: a new planned step count, to lengthen the run), EXTRA_ARGS (part 1: more
# train.py arguments, e.g. '--shift 1'; the later parts take them from the checkpoint).
set -euo pipefail
part=${1:?part number}
work=/tmp/tt
back=${OUT:?}/tt
mkdir -p "$work" "$back"
script=models/trained_tiny/train.py
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
if [ "$part" = 1 ]; then
  PYTHONUNBUFFERED=1 timeout 585 python3 "$script" all --device cuda --compile --no-export \
    --ae-minutes "${AE_MINUTES:-1.5}" --dit-minutes "${DIT_MINUTES:-16}" --stop-minutes "${STOP_MINUTES:-6.8}" \
    ${EXTRA_ARGS:-} --out "$work" 2>&1 | tee "$back/train_part1.log" || true
else
  if [ ! -f "$work/dit_train.pt" ]; then
    echo "fresh machine: resuming from .device/tt (without Adam's moments)"
    cp .device/tt/autoencoder.pt .device/tt/dit.pt .device/tt/dit_train.pt "$work"/
  fi
  PYTHONUNBUFFERED=1 timeout 585 python3 "$script" dit --device cuda --compile --resume \
    ${DIT_STEPS:+--dit-steps "$DIT_STEPS"} --stop-minutes "${STOP_MINUTES:-8.6}" --out "$work" 2>&1 \
    | tee "$back/train_part$part.log" || true
fi
for f in autoencoder.pt dit.pt dit_train.pt all_args.json dit_args.json; do
  [ -f "$work/$f" ] && cp "$work/$f" "$back/"
done
ls -la "$back"
