"""Pixels in and out: image files, tensors, colour, video files and the optical flow between frames
(the lowest layer above nst.errors)."""
