"""Use cases of the directory service (the business rules live here and in the domain)."""

from services.directory.usecases.accounts import AccountsUseCases
from services.directory.usecases.connections import CALENDAR, CONFERENCING, DIRECTORY, ConnectionsUseCases
from services.directory.usecases.resolve import ResolveUseCases
from services.directory.usecases.sync import SyncSettings, SyncUseCases
from services.directory.usecases.units import OrganizationalUnitsUseCases

__all__ = [
    "CALENDAR",
    "CONFERENCING",
    "DIRECTORY",
    "AccountsUseCases",
    "ConnectionsUseCases",
    "OrganizationalUnitsUseCases",
    "ResolveUseCases",
    "SyncSettings",
    "SyncUseCases",
]
