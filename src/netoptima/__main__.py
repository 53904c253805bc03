import sys

from netoptima.cli import main

sys.exit(main())
