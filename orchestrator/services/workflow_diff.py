"""The structured difference between two flow documents.

It lives in `shared.flow` so the studio's diff view and this API's `GET /workflows/{id}/diff`
share one definition of "changed"; this module keeps the service-layer import path.
"""

from shared.flow import DOCUMENT_FIELDS, diff_documents

__all__ = ["DOCUMENT_FIELDS", "diff_documents"]
