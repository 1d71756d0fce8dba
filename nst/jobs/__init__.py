"""Jobs above the core: batches, frame sequences and clips, video files, optical flow, checkpoints, provenance and outputs."""
