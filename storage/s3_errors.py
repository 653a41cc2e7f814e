"""What botocore's failures mean for the photo pipeline, in storage/errors.py's terms (the ones the
FTP transport raises too), and the one deadline per operation (botocore has timeouts per socket
operation and bounded retries, but nothing bounds a whole call: a PUT that trickles along would
go on for ever)."""

import re
from concurrent.futures import TimeoutError as FutureTimeout

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from storage.errors import (
    StoreBusy,
    StoreError,
    StoreFull,
    StoreLoginError,
    StoreRefused,
    StoreTimeout,
    StoreTLSError,
    StoreUnavailable,
    TransferDeadlineExceeded,
)

NAME_TAKEN = "PreconditionFailed"  # If-None-Match: * met an object already there (412)
# Refusals that are the configuration's, not one photo's: every photo would meet them.
CONFIGURATION_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "NoSuchBucket",
                       "InvalidBucketName", "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken"}
FULL_CODES = {"QuotaExceeded", "StorageQuotaExceeded", "InsufficientStorage", "ServiceQuotaExceeded"}
FULL_MESSAGE = re.compile(r"quota exceeded|exceeded (your|the) .*quota|storage cap|insufficient storage",
                          re.IGNORECASE)
CONDITION_WORDS = re.compile(r"if-none-match|header|condition", re.IGNORECASE)
BUSY_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}


def translate(error, operation, name=""):
    """Any failure of boto3 -> one StoreError naming the operation, the name and the store's code."""
    if isinstance(error, StoreError | FileNotFoundError) or not isinstance(error, BotoCoreError | ClientError
                                                                                   | OSError):
        return error  # ours already, a missing file, or a bug: as it is
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        reply = f"{status} {code}".strip()
        message = str(details.get("Message", ""))
        # Full before the 403s: gateways say a full quota with 403 QuotaExceeded (versitygw), B2 with
        # a 403 whose message speaks of its storage cap. Busy before that message: a throttled store
        # may speak of a request quota, and is not full.
        busy = code in BUSY_CODES or status in {429, 503}
        if code in FULL_CODES or status == 507 or (not busy and status in {400, 403} and FULL_MESSAGE.search(message)):
            return StoreFull(operation, name, reply, "the bucket's quota is full", protocol="S3")
        if busy:
            return StoreBusy(operation, name, reply, message, protocol="S3")
        if code in CONFIGURATION_CODES or status in {401, 403}:
            return StoreLoginError(operation, name, reply, message or "check the AWS_* settings",
                                       protocol="S3")
        if status >= 500:
            return StoreUnavailable(operation, name, reply, message, protocol="S3")
        return StoreRefused(operation, name, reply, message, protocol="S3")
    if isinstance(error, NoCredentialsError):
        return StoreLoginError(operation, name, detail="no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                                   protocol="S3")
    if isinstance(error, SSLError):
        return StoreTLSError(operation, name, detail="the store's certificate could not be verified",
                                 protocol="S3")
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return StoreTimeout(operation, name, detail="no answer in time", protocol="S3")
    if isinstance(error, BotoCoreError | OSError):
        # The class name and botocore's message (which names the endpoint, never a key).
        return StoreUnavailable(operation, name, detail=f"{type(error).__name__}: {error}", protocol="S3")
    return error


def is_name_taken(error):
    return isinstance(error, StoreRefused) and error.reply.endswith(NAME_TAKEN)


def call_with_deadline(executor, operation, name, work, seconds):
    """``work()`` in ``executor``'s threads, translated; a TransferDeadlineExceeded once ``seconds``
    have passed. The call itself cannot be stopped: it goes on until botocore's own timeouts end
    it, and its result is dropped; what it may still write is the same bytes under the same name,
    or an object nobody refers to."""
    future = executor.submit(work)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise TransferDeadlineExceeded(operation, name, protocol="S3", detail=(
            f"still not done after {seconds:g} s (the transfer timeout)")) from None
    except Exception as error:
        raise translate(error, operation, name) from None


def refuses_the_condition(error):
    """Does this refusal of a conditional PUT say the store does not know If-None-Match? A 501, or a
    400 about an argument or header (not a timeout, a damaged body, a size: those are the PUT's)."""
    if error.code == "501":
        return True
    if not isinstance(error, StoreRefused) or isinstance(error, StoreFull):
        return False  # full, busy, down: the PUT's fate, whatever its headers
    return (error.code == "400" and error.reply.split()[-1] in {"InvalidArgument", "InvalidRequest", "NotImplemented"}
            and CONDITION_WORDS.search(str(error)) is not None)
