"""The only code that touches real weights or real time: checkpoints, weight statistics, timing."""
