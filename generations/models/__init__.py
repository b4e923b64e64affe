"""Models of the portal: users, the credit ledger, the price table and generations."""

from .generation import Generation, GenerationInput, WorkerLease
from .ledger import CreditAccount, CreditEntry
from .pricing import Price, PriceTable
from .users import User

__all__ = [
    "CreditAccount",
    "CreditEntry",
    "Generation",
    "GenerationInput",
    "Price",
    "PriceTable",
    "User",
    "WorkerLease",
]
