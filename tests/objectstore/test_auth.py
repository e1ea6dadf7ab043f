"""Which Authorization headers reach moto, and the S3 error every other one gets."""

from __future__ import annotations

import pytest

from appliance.targets.local.s3_auth import Refusal, refusal

DATE = "20240501T120000Z"
SIGNATURE = "a" * 64
CREDENTIAL = "AKIAEXAMPLE/20240501/us-east-1/s3/aws4_request"
SIGNED = "host;x-amz-content-sha256;x-amz-date"
GOOD = f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders={SIGNED}, Signature={SIGNATURE}"


def code(authorization: str | None, query: str = "", amz_date: str | None = DATE) -> tuple[int, str] | None:
    found = refusal(authorization, query, amz_date)
    return None if found is None else (found.status, found.code)


def test_a_well_formed_sigv4_header_reaches_moto() -> None:
    assert refusal(GOOD, "", DATE) is None
    # botocore's spelling without blanks after the commas is well formed too.
    assert refusal(GOOD.replace(", ", ","), "", DATE) is None


def test_unsigned_and_presigned_requests_are_access_denied() -> None:
    assert code(None) == (403, "AccessDenied")
    assert code("   ") == (403, "AccessDenied")
    presigned = refusal(None, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc", None)
    assert presigned is not None and presigned.status == 403
    assert "presigned URLs are not supported" in presigned.message


def test_signature_version_2_gets_s3s_answer_for_unsupported_mechanisms() -> None:
    assert refusal("AWS AKIAEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "", None) == Refusal(
        400, "InvalidRequest",
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )


@pytest.mark.parametrize("header", ["garbage", "Bearer token", "Basic dXNlcjpwdw==", "AWS4-HMAC-SHA25 x"])
def test_other_schemes_are_unsupported_authorization_types(header: str) -> None:
    found = refusal(header, "", DATE)
    assert found == Refusal(400, "InvalidArgument", "Unsupported Authorization Type",
                            {"ArgumentName": "Authorization", "ArgumentValue": header})


@pytest.mark.parametrize("header", [
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 garbage",
    f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 SignedHeaders={SIGNED}, Credential={CREDENTIAL}, Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE, SignedHeaders={SIGNED}, Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/2024/us-east-1/s3/aws4_request, SignedHeaders={SIGNED}, "
    f"Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=, Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=Host;X-Amz-Date, Signature={SIGNATURE}",
    f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders={SIGNED}, Signature=xyz",
])
def test_malformed_sigv4_headers_are_authorization_header_malformed(header: str) -> None:
    found = refusal(header, "", DATE)
    assert found is not None and (found.status, found.code) == (400, "AuthorizationHeaderMalformed")
    assert found.message.startswith("The authorization header is malformed; ")


def test_sigv4_needs_a_signed_x_amz_date() -> None:
    assert code(GOOD, amz_date=None) == (403, "AccessDenied")
    unsigned_date = GOOD.replace(SIGNED, "host;x-amz-content-sha256")
    assert code(unsigned_date) == (403, "AccessDenied")
