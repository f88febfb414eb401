from .audit import AuditEvent
from .movements import Allocation, Conversion, Receipt, Transfer
from .rules import EquityCapVersion, Parameter, PurposeCode, RetentionRuleVersion, TaxRate

__all__ = [
    "Allocation",
    "AuditEvent",
    "Conversion",
    "EquityCapVersion",
    "Parameter",
    "PurposeCode",
    "Receipt",
    "RetentionRuleVersion",
    "TaxRate",
    "Transfer",
]
