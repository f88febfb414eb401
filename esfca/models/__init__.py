from .audit import PLATFORM_CHAIN, AuditEvent, AuditHead
from .client_months import ClientMonth
from .days import ReceiptDay
from .imports import ImportChunk, ImportFilePiece, ImportJob
from .movements import Allocation, Conversion, Receipt, Transfer
from .rules import EquityCapVersion, Parameter, PurposeCode, RetentionRuleVersion, TaxRate
from .summaries import MonthlySummary, SummaryEvent, SummaryReminder, SummaryReview
from .tallies import ReceiptTally

__all__ = [
    "PLATFORM_CHAIN",
    "Allocation",
    "AuditEvent",
    "AuditHead",
    "ClientMonth",
    "Conversion",
    "EquityCapVersion",
    "ImportChunk",
    "ImportFilePiece",
    "ImportJob",
    "MonthlySummary",
    "Parameter",
    "PurposeCode",
    "Receipt",
    "ReceiptDay",
    "ReceiptTally",
    "RetentionRuleVersion",
    "SummaryEvent",
    "SummaryReminder",
    "SummaryReview",
    "TaxRate",
    "Transfer",
]
