#!/usr/bin/env bash
# Seconds per optimizer step of 'docking train' with the bundled cpu config, 32-true against bf16-mixed, on a
# cache of the two bundled complexes (ids A..D, as in tests/pipelines/docking/test_train.py), one thread,
# 30 steps each after the same start-up. Run from an empty folder: bash bench_precision.sh REPO_ROOT
set -euo pipefail
ROOT=${1:?repository root}
DATA=$ROOT/domains/docking/data
{ echo "id,protein,ligand,pocket_ligand"
  for n in 6YQW_82I 6XG5_TOP; do echo "$n,$DATA/${n}_pocket.pdb.gz,$DATA/${n}_ligand.sdf,$DATA/${n}_ligand.sdf"; done
} > prep.csv
[ -d prepared ] || sciffusion docking prepare --index prep.csv --out prepared --conformers 4
mkdir -p cache
{ echo "id,protein,ligand,split"
  for pair in A:6YQW_82I:train B:6XG5_TOP:train C:6YQW_82I:train D:6XG5_TOP:val; do
    IFS=: read -r cid src split <<< "$pair"
    python -c "import torch,sys; e=torch.load('prepared/$src.pt',weights_only=True); e['id']='$cid'; torch.save(e,'cache/$cid.pt')"
    echo "$cid,$DATA/${src}_pocket.pdb.gz,$DATA/${src}_ligand.sdf,$split"
  done
} > index.csv
echo "precision,steps,seconds,seconds_per_step"
for p in 32-true bf16-mixed; do
  rm -rf "run_$p"
  start=$(date +%s.%N)
  OMP_NUM_THREADS=1 sciffusion docking train --cache cache --index index.csv --out "run_$p" --config cpu \
      --max-steps 30 --batch-size 4 --precision "$p" --no-progress > "run_$p.log" 2>&1
  end=$(date +%s.%N)
  python -c "print('$p,30,%.1f,%.2f' % ($end-$start, ($end-$start)/30))"
done
