"""``python -m qwen_ci_tool.cli`` is the ``qwen-ci`` command."""

import sys

from .main import main

sys.exit(main())
