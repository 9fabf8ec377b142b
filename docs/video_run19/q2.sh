#!/bin/bash
# guide2 (guide1 trained 35 min longer, seed 1): 4 seeds of cut-in and collision, split over both cores
cd /work/runs33; G=guide2/guide.pt
while [ ! -f $G ]; do sleep 10; done; sleep 3
( for s in 0 1 2 3; do ./arm.sh 0 g2_cutin_sc10_s$s cut-in $s --guidance 8 --guide $G --guide-scale 10; done ) &
( for s in 0 1 2 3; do ./arm.sh 1 g2_coll_sc10_s$s collision $s --guidance 8 --guide $G --guide-scale 10; done ) &
wait; echo done > q2.done
