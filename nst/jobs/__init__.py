"""Jobs above the core: batches, frame sequences and clips, checkpoints, provenance and outputs."""
