"""Refusals of the ESFCA rules. Each carries its API error code (api-contract.md)."""

from exporters.errors import DomainError


class EsfcaError(DomainError):
    default_message = "The request was refused."


class InvalidInput(EsfcaError):
    """Field validation; ``details`` maps each field to a list of messages."""

    code = "validation_error"
    default_message = "Some fields are invalid."


class NoAccount(EsfcaError):
    code = "no_account"
    default_message = "The firm has no account for this currency."


class NoRuleInForce(EsfcaError):
    code = "no_rule_in_force"
    default_message = "No retention rule is in force for this firm on that date."


class RetentionLimitExceeded(EsfcaError):
    code = "retention_limit_exceeded"
    default_message = "The requested retention is above the allowed limit."


class CategoryNotPermitted(EsfcaError):
    code = "category_not_permitted"
    default_message = "This payment is not permitted from an ESFCA."


class EquityNotPermitted(EsfcaError):
    code = "equity_not_permitted"
    default_message = "This overseas equity investment is not permitted."


class EquityCapExceeded(EsfcaError):
    code = "equity_cap_exceeded"
    default_message = "This investment would exceed the overseas equity cap."


class DuplicateReference(EsfcaError):
    code = "duplicate_reference"
    status = 409
    default_message = "This reference was already used with different details."


class InvalidState(EsfcaError):
    code = "invalid_state"
    status = 409
    default_message = "This action is not possible in the object's current state."


class MovementNotFound(EsfcaError):
    """A movement the firm does not have (another firm's answers the same: not found)."""

    code = "not_found"
    status = 404
    default_message = "No such movement."


class NoSuchMonth(EsfcaError):
    """A well-formed month outside the months the rules cover (api-contract.md 1.1)."""

    code = "not_found"
    status = 404
    default_message = "No such month."


class QueueUnavailable(EsfcaError):
    """The task queue (Redis) did not take a job: nothing was started."""

    code = "service_unavailable"
    status = 503
    default_message = "The task queue is not answering; try again in a few minutes."


class NotPermitted(EsfcaError):
    code = "permission_denied"
    status = 403
    default_message = "Your role does not allow this action."
