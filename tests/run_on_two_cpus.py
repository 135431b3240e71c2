"""`keras-tl train CONFIG...` in one process whose CPU is split into two logical devices.

TensorFlow accepts a logical device split only before it initializes, hence a separate script (the tests run it
as a subprocess). Each config is trained in turn; the exit status is the worst of them."""

import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from keras_tl.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(max([main(["train", path]) for path in sys.argv[1:]]))
