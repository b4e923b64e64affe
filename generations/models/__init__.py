"""Models of the portal: users, the credit ledger, the price table and generations."""

from .alerts import ProviderAlert
from .api import ApiIdempotencyKey, ApiToken, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .balances import ProviderBalanceReading
from .circuit import ProviderCircuit
from .generation import Generation, GenerationInput, WorkerLease
from .ledger import AccountTotals, CreditAccount, CreditEntry, SpendDay, SpendRollup
from .ops import OpsMetric, WorkerHeartbeat
from .pricing import Price, PriceTable
from .team import AuditEntry, Invitation
from .users import User

__all__ = [
    "AccountTotals",
    "ApiIdempotencyKey",
    "ApiToken",
    "AuditEntry",
    "CreditAccount",
    "CreditEntry",
    "Generation",
    "GenerationInput",
    "Invitation",
    "OpsMetric",
    "Price",
    "PriceTable",
    "ProviderAlert",
    "ProviderBalanceReading",
    "ProviderCircuit",
    "SpendDay",
    "SpendRollup",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkerHeartbeat",
    "WorkerLease",
]
