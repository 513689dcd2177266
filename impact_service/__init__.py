"""The gridimpact service: the HTTP API (``main``, ``studies``, ``grids``, ``factors``, ``ops``), the
store that is the system of record (``store``), the task queue as the API sees it (``queue``), the
embedded stack (``embedded``) and the ``gridimpact`` command line (``cli``)."""
