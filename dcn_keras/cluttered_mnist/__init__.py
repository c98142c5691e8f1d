"""The Cluttered MNIST DCN (paper sec. 4.1): a single-label classifier trained end to end."""
