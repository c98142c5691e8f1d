"""TFX custom components of the DCN pipeline. Model math stays in `dcn_keras`."""
