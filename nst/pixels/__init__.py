"""Pixels in and out: image files, tensors, colour (the lowest layer above nst.errors)."""
