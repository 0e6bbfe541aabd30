"""The AI side of XRayDesk (TensorFlow/Keras, no Qt). TensorFlow is imported only when a model is
loaded or trained."""

import os

# TensorFlow's C++ start-up chatter is noise in a desktop app and a batch command's stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
