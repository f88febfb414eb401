"""The base of every refusal the domain raises; each app subclasses it once."""


class DomainError(Exception):
    """A refusal with the API error ``code``, its HTTP ``status``, a plain-sentence
    ``message`` and ``details`` (for validation: field -> messages)."""

    code = "validation_error"
    status = 400
    default_message = "The request was refused."

    def __init__(self, message: str | None = None, **details):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)
