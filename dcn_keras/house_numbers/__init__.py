"""The house-numbers DCN (paper sec. 4.2): coarse and fine models trained apart on crops of
house numbers, composed at test time to read whole numbers in large images."""
