#!/bin/bash
# the arms of results.txt (each: 32 clips of the bundled model, dpmpp_2m 10 steps, CFG 8 unless said, judged)
cd /work/runs33; G=guide1/guide.pt
for s in 1 2; do ./arm.sh 0 base_cut-in_s$s cut-in $s --guidance 8 --guide none; done   # seed 0: cw3_cut-in
for s in 0 1 2; do ./arm.sh 1 base_collision_s$s collision $s --guidance 8 --guide none; done
./arm.sh 1 base_normal_s1 normal 1 --guidance 8 --guide none                             # seed 0: cw3_normal
for s in 0 1; do ./arm.sh 1 base_nearmiss_s$s near-miss $s --guidance 8 --guide none; done
for sc in 1 3 10 30; do ./arm.sh 0 g1_cutin_sc${sc}_s0 cut-in 0 --guidance 8 --guide $G --guide-scale $sc
                        ./arm.sh 1 g1_coll_sc${sc}_s0 collision 0 --guidance 8 --guide $G --guide-scale $sc; done
for s in 1 2; do ./arm.sh 0 g1_cutin_sc10_s$s cut-in $s --guidance 8 --guide $G --guide-scale 10
                 ./arm.sh 0 g1_coll_sc10_s$s collision $s --guidance 8 --guide $G --guide-scale 10; done
for s in 0 1; do ./arm.sh 0 g1_normal_sc10_s$s normal $s --guidance 8 --guide $G --guide-scale 10
                 ./arm.sh 1 g1_nearmiss_sc10_s$s near-miss $s --guidance 8 --guide $G --guide-scale 10; done
for ev in cut-in:cutin collision:coll; do e=${ev%%:*}; n=${ev##*:}
  ./arm.sh 0 g1hi_${n}_sc10_s0 $e 0 --guidance 8 --guide $G --guide-scale 10 --guide-interval 0.5,1000
  ./arm.sh 0 g1lo_${n}_sc10_s0 $e 0 --guidance 8 --guide $G --guide-scale 10 --guide-interval 0,0.5
  ./arm.sh 1 g1only_${n}_sc10_s0 $e 0 --guidance 1 --guide $G --guide-scale 10; done
for s in 3; do ./arm.sh 0 base_cut-in_s3 cut-in 3 --guidance 8 --guide none; ./arm.sh 0 g1_cutin_sc10_s3 cut-in 3 --guidance 8 --guide $G --guide-scale 10; ./arm.sh 0 base_collision_s3 collision 3 --guidance 8 --guide none; ./arm.sh 0 g1_coll_sc10_s3 collision 3 --guidance 8 --guide $G --guide-scale 10; done
for s in 0 1; do ./arm.sh 1 g1_cutin_f4_sc10_s$s cut-in $s --guidance 8 --guide guide1/guide.pt --guide-scale 10 --event-frame 4; done
cd /work/runs33; G=guide1/guide.pt
for ev in cut-in:cutin collision:coll; do e=${ev%%:*}; n=${ev##*:}
  ./arm.sh 1 ctx_base_${n}_s0 $e 0 --guidance 8 --guide none --context driving_cls_test.zarr
  ./arm.sh 1 ctx_g1_${n}_sc10_s0 $e 0 --guidance 8 --guide $G --guide-scale 10 --context driving_cls_test.zarr
done
cd /work/runs33; G=guide1/guide.pt
for s in 2 3; do ./arm.sh 1 base_normal_s$s normal $s --guidance 8 --guide none
                 ./arm.sh 1 g1_normal_sc10_s$s normal $s --guidance 8 --guide $G --guide-scale 10; done
