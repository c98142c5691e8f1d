"""Datasets: MNIST sources, Cluttered MNIST, TFRecord I/O."""
