"""Every default in one place. Documented in the README's configuration table."""

from __future__ import annotations

#: Service roots by region, named by city as the vendor names its regions ("US (Virginia)").
#: The code interpreter is served from Beijing and Singapore since 2026; whether the US root serves
#: it is undocumented (its compatible mode is live in 2026): it is allowed, the service decides.
REGION_ROOTS: dict[str, str] = {
    "beijing": "https://dashscope.aliyuncs.com",
    "singapore": "https://dashscope-intl.aliyuncs.com",
    "virginia": "https://dashscope-us.aliyuncs.com",
}
#: Other names a region is known by; each means the region it names.
REGION_ALIASES: dict[str, str] = {"us": "virginia"}
DEFAULT_REGION = "beijing"
DEFAULT_PROTOCOL = "dashscope"
DEFAULT_MODEL = "qwen3-max"

#: Seconds allowed to open the connection (TCP + TLS) and to write the request.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Longest silence allowed between two reads of a stream. The service is silent while the
#: sandbox runs the model's code, so this is generous.
DEFAULT_IDLE_TIMEOUT = 180.0
#: Deadline for the whole call, retries included.
DEFAULT_TOTAL_TIMEOUT = 900.0
#: Retries happen only before the first event arrives (so at most MAX+1 attempts).
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A Retry-After longer than this is not waited for: the error is raised with the hint instead.
MAX_RETRY_AFTER = 60.0

#: Input limits checked before sending (the service would reject more anyway, after a round trip).
MAX_INPUT_CHARS = 500_000
#: A single SSE line longer than this is treated as a protocol error, not buffered forever.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: At most this much of an error body is read.
MAX_ERROR_BODY_BYTES = 1024 * 1024

# Paths below the service root.
NATIVE_TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
NATIVE_MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
CHAT_COMPLETIONS_PATH = "/compatible-mode/v1/chat/completions"
RESPONSES_PATH = "/compatible-mode/v1/responses"
LEGACY_RESPONSES_PATH = "/api/v2/apps/protocols/compatible-mode/v1/responses"

#: Suffixes that users often include in a base URL; they are stripped to get the service root.
BASE_URL_SUFFIXES = (
    "/api/v2/apps/protocols/compatible-mode/v1",
    "/compatible-mode/v1",
    "/api/v1",
)

# Environment variables, the same names the vendor SDK reads.
ENV_API_KEY = "DASHSCOPE_API_KEY"
ENV_API_KEY_FILE = "DASHSCOPE_API_KEY_FILE_PATH"
ENV_BASE_URL = "DASHSCOPE_HTTP_BASE_URL"
ENV_WORKSPACE = "DASHSCOPE_WORKSPACE_ID"

#: Batch runs (``run_many``, ``qwen-ci batch``): calls at once at most (the limiter lowers it on 429s).
DEFAULT_BATCH_CONCURRENCY = 4
#: Pause after a rate limit that came without ``Retry-After``.
BATCH_DEFAULT_PAUSE = 1.0
#: A task refused by the rate limiter (429, nothing received) goes back in the queue at most this often.
BATCH_MAX_REQUEUES = 20
