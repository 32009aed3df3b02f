"""RunPod Serverless worker: ``python headless/serverless_handler.py`` (the bpy module in a Python 3.11 image).

Each request's ``input`` is one of our job manifests; see ``pose_factory_addon/serverless_worker.py``.
For a local test server: ``python headless/serverless_handler.py --rp_serve_api --rp_api_host 127.0.0.1
--rp_api_port 8000`` (RunPod's SDK reads its own ``--rp_*`` arguments).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bootstrap

if __name__ == "__main__":
    package = _bootstrap.load_package(__file__)
    importlib.import_module(f"{package.__name__}.serverless_worker").main()
