from .audit import PLATFORM_CHAIN, AuditEvent, AuditHead
from .days import ReceiptDay
from .imports import ImportChunk, ImportFilePiece, ImportJob
from .movements import Allocation, Conversion, Receipt, Transfer
from .rules import EquityCapVersion, Parameter, PurposeCode, RetentionRuleVersion, TaxRate
from .summaries import MonthlySummary, SummaryEvent, SummaryReminder, SummaryReview

__all__ = [
    "PLATFORM_CHAIN",
    "Allocation",
    "AuditEvent",
    "AuditHead",
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
    "RetentionRuleVersion",
    "SummaryEvent",
    "SummaryReminder",
    "SummaryReview",
    "TaxRate",
    "Transfer",
]
