import sys

from mfdnn.cli import main

sys.exit(main())
