"""Real local servers standing in for the project's external services in tests.

Each is a context manager bound to 127.0.0.1 on a free port: started on enter, stopped on
exit, and self-stopping after a maximum lifetime so a forgotten one cannot linger.
"""

from bamboo_assets_tests.servers.google_sheets import FakeGoogleSheets
from bamboo_assets_tests.servers.smtp import SmtpEnvelope, SmtpServer, closed_port
from bamboo_assets_tests.servers.statistics_api import (
    FakeStatisticsApi,
    Hang,
    Reply,
    StreamedBody,
    Truncated,
)

__all__ = [
    "FakeGoogleSheets",
    "FakeStatisticsApi",
    "Hang",
    "Reply",
    "SmtpEnvelope",
    "SmtpServer",
    "StreamedBody",
    "Truncated",
    "closed_port",
]
