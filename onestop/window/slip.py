"""受理回执: the acceptance slip printed at the window, rendered like the certificates (WeasyPrint, the
CJK font subset, the static-only URL fetcher) from plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import current_app

from onestop.applications.expected import application_forecast
from onestop.catalog.operations import bundle_of, department_map
from onestop.certificates import rendering
from onestop.certificates.documents import chinese_date, qr_png
from onestop.core.clock import to_local
from onestop.window.models import WindowIntake
from workflows.identity import mask_resident_id

COLLECTION_ZH = {"online": "网上下载", "window": "到本窗口领取", "mail": "邮寄送达"}


@dataclass
class SlipValues:
    """Everything the slip prints. Plain values only."""

    hall: str
    reference: str
    query_code: str
    bundle_name: str
    applicant_name: str
    applicant_code: str  # masked resident ID, or the (public) credit code
    applicant_code_label: str
    submitted: str
    expected: str
    clerk: str
    collection: str
    track_url: str
    qr_png: str
    username: str = ""
    activation_code: str = ""
    activation_until: str = ""
    proxy: dict[str, str] | None = None
    items: list[dict[str, str]] = field(default_factory=list)

    def texts(self) -> list[str]:
        out = [self.hall, self.reference, self.query_code, self.bundle_name, self.applicant_name,
               self.applicant_code, self.applicant_code_label, self.submitted, self.expected, self.clerk,
               self.collection, self.track_url, self.username, self.activation_code, self.activation_until]
        out += list((self.proxy or {}).values())
        out += [v for row in self.items for v in row.values()]
        return out


def _when(value: object) -> str:
    local = to_local(value)  # type: ignore[arg-type]
    return f"{chinese_date(local.date())} {local:%H:%M}"


def slip_values(intake: WindowIntake, activation_code: str | None, activation_until: object = None) -> SlipValues:
    application = intake.application
    assert application is not None
    bundle = bundle_of(application.bundle_version)
    applicant = intake.applicant
    departments = {d.id: d for d in department_map().values()}
    forecast = application_forecast(application) if application.state == "in_progress" else None
    expected = _when(forecast.ends) if forecast is not None and forecast.ends is not None else "—"
    if forecast is not None and forecast.provisional:
        expected += "（暂定）"
    items = []
    for step in application.steps:
        item = bundle.item(step.item_code)
        items.append({"name": item.name.zh, "department": departments[step.department_id].name_zh,
                      "limit": f"{step.limit_amount.normalize():f} {_unit(step.limit_unit)}"})
    public = str(current_app.config["ONESTOP_PUBLIC_URL"])
    track_url = f"{public}/track?{urlencode({'reference': application.reference})}"
    if applicant.enterprise is not None:
        name, code, label = applicant.enterprise.name, applicant.enterprise.credit_code, "统一社会信用代码"
    else:
        name, code, label = applicant.name, mask_resident_id(applicant.id_number), "身份证号码"
    return SlipValues(
        hall=intake.hall, reference=application.reference, query_code=application.query_code,
        bundle_name=bundle.name.zh, applicant_name=name, applicant_code=code, applicant_code_label=label,
        submitted=_when(application.submitted_at), expected=expected, clerk=intake.clerk.name,
        collection=COLLECTION_ZH[intake.collection], track_url=track_url, qr_png=qr_png(track_url),
        username=applicant.username if activation_code else "", activation_code=activation_code or "",
        activation_until=_when(activation_until) if activation_code and activation_until else "",
        proxy={"name": intake.proxy_name or "", "id_number": mask_resident_id(intake.proxy_id_number),
               "relation": intake.proxy_relation or ""} if intake.has_proxy else None,
        items=items,
    )


def _unit(unit: str) -> str:
    return {"working_days": "个工作日", "natural_days": "日", "working_hours": "个工作小时", "minutes": "分钟"}.get(unit, unit)


def render_slip(values: SlipValues) -> bytes:
    rendering.check_glyphs(values.texts())
    html = current_app.jinja_env.get_template("window/print/slip.html").render(slip=values)
    return rendering.render_pdf(html, title=f"受理回执 {values.reference}")
