"""fusion-stream: the notification worker as a Kafka stream processor."""

from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, PermanentError, TransientError

__all__ = ["ConfigurationError", "Job", "PermanentError", "SendResult", "TransientError"]
__version__ = "0.1.0"
