"""Payment channel port: the interface in base.py, the embedded simulated channel in simulated.py."""
from .base import ChannelAnswer, PaymentChannel, TransferState, TransferStatus, TransientChannelError

__all__ = ["ChannelAnswer", "PaymentChannel", "TransferState", "TransferStatus", "TransientChannelError"]
