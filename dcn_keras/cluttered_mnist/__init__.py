"""The Cluttered MNIST family (paper sec. 4.1): the preset, its baselines, test-time
composition, reports and speed benchmark, around the single-label DCN of
`dcn_keras.classifier`, trained end to end."""
