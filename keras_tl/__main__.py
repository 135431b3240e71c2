import sys

from keras_tl.cli.main import main

sys.exit(main())
