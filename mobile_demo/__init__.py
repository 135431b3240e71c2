"""Code to copy onto a device: an edge runner without TensorFlow (``edge/``) and a phone-browser page (``web/``)."""
