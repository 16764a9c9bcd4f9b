"""`python -m taar_assets.cli ...` is `taar-assets ...` (spark-submit runs this file's package)."""

import sys

from taar_assets.cli import main

sys.exit(main())
