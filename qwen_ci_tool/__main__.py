"""``python -m qwen_ci_tool`` is the ``qwen-ci`` command."""

import sys

from .cli import main

sys.exit(main())
