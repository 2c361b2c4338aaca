"""Provider drivers: pure translators between provider-neutral requests and each wire format.

The built-in table lives in :mod:`llm_connectivity.providers.catalog`; third-party drivers
are written against :mod:`llm_connectivity.provider_api` (the declared plugin API) and
register through :func:`llm_connectivity.registry.register_provider` or the
``llm_connectivity.providers`` entry point group.
"""

from .base import ProviderDriver

__all__ = ["ProviderDriver"]
