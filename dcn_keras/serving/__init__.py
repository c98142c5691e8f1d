"""Exporting models for TensorFlow Serving and building requests to them."""
