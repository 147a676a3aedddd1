from heaplens._heaplens import walk
