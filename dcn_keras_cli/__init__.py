"""The `dcn` command line (`dcn_keras_cli.cli`).

A package of its own, beside `dcn_keras`: importing `dcn_keras` loads TensorFlow and registers
the models' Keras classes, which takes many seconds, and the command parses its arguments
(and answers `--help`) before it imports any of that.
"""
