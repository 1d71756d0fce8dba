"""The network and its device: VGG19, the AdaIN encoder and decoder, the device, precision and memory probes."""
