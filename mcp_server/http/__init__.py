"""Serving over streamable HTTP: the app and uvicorn (``app``), bearer tokens (``auth``), the
operator's routes (``routes``), the gate in front of the SDK (``gate``) and cancel routing (``cancels``)."""
