import sys

from mathdnn.cli import main

sys.exit(main())
