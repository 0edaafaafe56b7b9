"""Provider emulators; each module exposes ``NAME``, ``State``, ``load``, ``seed`` and ``setup``.

See :mod:`sandbox.core` for the contract. :mod:`sandbox.app` imports google, microsoft, zoom, webex
and successfactors when present; helper modules (``google_*``) are not providers.
"""
