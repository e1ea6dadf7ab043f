"""Which requests reach moto's signature check: a well-formed SigV4 Authorization header only.

moto verifies SigV4 header signatures, but anything else in the Authorization header (SigV2's
`AWS key:signature`, another scheme, a truncated SigV4 header) makes its IAM emulation fail
with a 500. Those requests are refused here with the error S3 itself answers:

- no Authorization header (including presigned URLs, which moto cannot verify): 403 AccessDenied;
- `AWS ...` (Signature Version 2): 400 InvalidRequest "The authorization mechanism you have
  provided is not supported. Please use AWS4-HMAC-SHA256." - S3's answer in every region and
  bucket without SigV2; SDKs and the AWS CLI recognise it and tell the user to switch to SigV4;
- any other scheme: 400 InvalidArgument "Unsupported Authorization Type";
- `AWS4-HMAC-SHA256` without a well-formed Credential, SignedHeaders and Signature:
  400 AuthorizationHeaderMalformed;
- SigV4 without a signed x-amz-date header: 403 AccessDenied (S3 also accepts a signed Date
  header; moto checks signatures over x-amz-date only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SIGV4 = "AWS4-HMAC-SHA256"
_CREDENTIAL = re.compile(r"^[^/\s]+/\d{8}/[^/\s]+/[^/\s]+/aws4_request$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_PRESIGNED = re.compile(r"(^|&)(X-Amz-Signature|Signature)=", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    """An S3 error answer: HTTP status, S3 error code, message and extra XML elements."""

    status: int
    code: str
    message: str
    extra: dict[str, str] = field(default_factory=dict)


def refusal(authorization: str | None, query: str = "", amz_date: str | None = None) -> Refusal | None:
    """None when the request carries a well-formed SigV4 header for moto to verify."""
    header = (authorization or "").strip()
    if not header:
        if _PRESIGNED.search(query):
            return Refusal(403, "AccessDenied", "Access Denied: presigned URLs are not supported by "
                           "the local object store; sign requests with an Authorization header")
        return Refusal(403, "AccessDenied", "Access Denied: a signed request is required")
    scheme, _, rest = header.partition(" ")
    if scheme == "AWS":
        return Refusal(400, "InvalidRequest", "The authorization mechanism you have provided is not "
                       "supported. Please use AWS4-HMAC-SHA256.")
    if scheme != SIGV4:
        return Refusal(400, "InvalidArgument", "Unsupported Authorization Type",
                       {"ArgumentName": "Authorization", "ArgumentValue": header})
    problem = _sigv4_problem(rest)
    if problem is not None:
        return Refusal(400, "AuthorizationHeaderMalformed",
                       f"The authorization header is malformed; {problem}")
    signed = rest.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    if not amz_date or "x-amz-date" not in signed:
        return Refusal(403, "AccessDenied", "AWS authentication requires a valid x-amz-date header, "
                       "signed (the local object store verifies signatures over it)")
    return None


def _sigv4_problem(rest: str) -> str | None:
    """What is wrong with `Credential=..., SignedHeaders=..., Signature=...`, in that order."""
    parts = [part.strip() for part in rest.split(",")]
    names = [part.partition("=")[0] for part in parts]
    if names != ["Credential", "SignedHeaders", "Signature"]:
        return "expecting Credential, SignedHeaders and Signature, in that order"
    credential, signed, signature = (part.partition("=")[2] for part in parts)
    if not _CREDENTIAL.match(credential):
        return ('the Credential is mal-formed; expecting '
                '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    headers = signed.split(";")
    if not signed or any(not name or name != name.lower() for name in headers):
        return "SignedHeaders must be a ';'-separated list of lowercase header names"
    if not _SIGNATURE.match(signature):
        return "the Signature must be 64 hexadecimal digits"
    return None
