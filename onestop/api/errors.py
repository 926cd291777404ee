"""One error envelope for every 4xx and 5xx under /api: {"error": {"code", "message", "message_en"}}.

Codes are stable (clients branch on them); `message` is Chinese, `message_en` English, whatever the
request's language; `details` carries per-field problems where there are some.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"

# code -> (HTTP status, Chinese, English)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求格式不正确。", "The request is malformed."),
    "idempotency_key_required": (400, "创建办件须提供 Idempotency-Key 请求头（1–64 个字母、数字或 -_.:）。",
                                 "Creating an application needs an Idempotency-Key header (1–64 letters, digits or -_.:)."),
    "unauthenticated": (401, "缺少访问令牌：请在 Authorization 请求头中提供 Bearer 令牌。",
                        "No token: send 'Authorization: Bearer <token>'."),
    "invalid_token": (401, "访问令牌无效。", "The token is not valid."),
    "token_revoked": (401, "访问令牌已被撤销。", "The token was revoked."),
    "token_expired": (401, "访问令牌已过期。", "The token has expired."),
    "account_disabled": (401, "令牌所属账户已停用。", "The token's account is disabled."),
    "insufficient_scope": (403, "该令牌没有执行此操作所需的权限范围。", "The token lacks the scope this operation needs."),
    "forbidden": (403, "无权执行此操作。", "You may not do this."),
    "wrong_audience": (403, "该事项不面向此类申请人（自然人或企业）。",
                       "This matter is not for this kind of applicant (person or enterprise)."),
    "not_found": (404, "资源不存在，或无权访问。", "Not found, or not yours to see."),
    "method_not_allowed": (405, "此资源不支持该请求方法。", "This method is not allowed on this resource."),
    "not_acceptable": (406, "无法提供所要求的格式。", "The requested format cannot be provided."),
    "invalid_state": (409, "当前状态下不能执行此操作。", "Not possible in the current state."),
    "already_decided": (409, "该环节已办结，未作任何更改。", "This step was already decided; nothing was changed."),
    "claimed_by_other": (409, "该环节正由其他审批人员办理。", "Another reviewer holds this step."),
    "already_revoked": (409, "该证照已被撤销。", "This certificate was revoked already."),
    "payload_too_large": (413, "请求内容过大。", "The request is too large."),
    "unsupported_media_type": (415, "请求内容类型不受支持（请使用 application/json 或 multipart/form-data）。",
                               "Unsupported content type (use application/json or multipart/form-data)."),
    "validation_failed": (422, "提交的数据有误，详见 details。", "Some values are not valid; see details."),
    "not_eligible": (422, "不符合该事项的办理条件。", "The matter's conditions are not met."),
    "material_invalid": (422, "材料未通过检查，详见 details。", "A material was refused; see details."),
    "idempotency_key_reused": (422, "该 Idempotency-Key 已用于内容不同的请求，未作任何更改。",
                               "This Idempotency-Key was used for a different request; nothing was changed."),
    "idempotency_key_expired": (422, "该 Idempotency-Key 已过期，不能再次使用，未作任何更改；请使用新的键。",
                                "This Idempotency-Key has expired and cannot be reused; nothing was changed. "
                                "Use a new key."),
    "decision_refused": (422, "该决定不能作出，详见 details。", "This decision cannot be made; see details."),
    "rate_limited": (429, "请求过于频繁，请稍后再试。", "Too many requests; please slow down."),
    "internal_error": (500, "服务器内部错误，未保存任何不完整的更改，请重试。",
                       "Something went wrong on our side; nothing was half-saved. Please try again."),
    "service_unavailable": (503, "服务暂不可用，请稍后再试。", "The service is unavailable; try again later."),
}

_BY_STATUS = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "invalid_state", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited", 500: "internal_error",
              503: "service_unavailable"}


class ApiError(HTTPException):
    """Raised by API views: the envelope's code, and optional details."""

    def __init__(self, code: str, details: Any = None, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.code = status or MESSAGES[code][0]
        super().__init__(description=code)
        self.error_code = code
        self.details = details
        self.extra_headers = headers or {}


def fail(code: str, details: Any = None, **kwargs: Any) -> NoReturn:
    raise ApiError(code, details, **kwargs)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def envelope(code: str, status: int, details: Any = None, headers: dict[str, str] | None = None) -> Response:
    known = MESSAGES.get(code)
    zh, en = (known[1], known[2]) if known else MESSAGES[_BY_STATUS.get(status, "bad_request")][1:]
    body: dict[str, Any] = {"code": code, "message": zh, "message_en": en}
    if details:
        body["details"] = details
    response = current_app.response_class(json.dumps({"error": body}, ensure_ascii=False, default=str),
                                          status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error(error: HTTPException) -> Response:
    """Any HTTPException under /api, ours or Flask's (404, 405, 413), flask-smorest's 422 (webargs)."""
    status = error.code or 500
    if isinstance(error, ApiError):
        return envelope(error.error_code, status, error.details, error.extra_headers)
    details = None
    data = getattr(error, "data", None)
    if isinstance(data, dict):
        details = data.get("errors") or data.get("messages")
        if isinstance(details, dict) and set(details) <= {"json", "query", "form", "files", "headers"}:
            merged: dict[str, Any] = {}
            for part in details.values():
                merged.update(part if isinstance(part, dict) else {"_": part})
            details = merged
    headers = {}
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    if status == 429:
        headers.update({k: v for k, v in error.get_response().headers.items() if k.lower().startswith(("retry-after", "x-ratelimit"))})
    return envelope(_BY_STATUS.get(status, "bad_request" if status < 500 else "internal_error"), status, details,
                    headers)


def unexpected_error() -> Response:
    return envelope("internal_error", 500)
