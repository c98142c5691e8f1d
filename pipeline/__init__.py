"""The DCN experiments as TFX pipelines: configs, the pipeline graph and the runner script."""
