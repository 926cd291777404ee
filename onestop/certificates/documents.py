"""What each printed document says: plain values for the print templates, and who holds it.

Templates receive only these plain values (strings, lists of pairs, an SVG QR code), never a model.
The layouts themselves are Jinja files in templates/certificates/, one per catalog output template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from workflows.catalog.schema import Bundle, FieldType
from workflows.identity import credit_code_check_char

COMPLETION_NOTICE = "completion_notice"
NOTICE_TITLE = "办结通知书"

# How long each kind of result is valid, in years (None: long-term, 长期). Sample figures from the
# rules that set them: 食品经营许可证 5 years (《食品经营许可和备案管理办法》第三十一条), 排水许可证 5 years
# (《城镇污水排入排水管网许可管理办法》第十六条), 户外招牌设置许可 3 years (local rules, sample).
VALIDITY_YEARS: dict[str, int | None] = {
    "food_business_licence": 5,
    "drainage_permit": 5,
    "sign_permit": 3,
}


@dataclass(frozen=True)
class Holder:
    name: str
    code: str | None  # unified social credit code, or None for a natural person's document
    code_label: str  # 统一社会信用代码 / 公民身份号码


def holder_of(bundle: Bundle, answers: dict[str, Any], applicant_name: str, enterprise: Any) -> Holder:
    """The holder printed on the results: the company or enterprise the matter is for, else the person."""
    name = answers.get("company_name") or answers.get("enterprise_name") \
        or (enterprise.name if enterprise is not None else None) or applicant_name
    code = answers.get("credit_code") or (enterprise.credit_code if enterprise is not None else None)
    return Holder(str(name), str(code) if code else None, "统一社会信用代码")


# -- GB 32100: a new company's unified social credit code (assigned by its establishment registration) ---

_GB11714_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z


def new_credit_code(region_code: str, sequence: int) -> str:
    """登记管理部门 9 (market regulation) + 机构类别 1 (enterprise) + region + organisation code + check.

    The organisation code is "MA" + six characters from the registration's sequence, with its GB 11714
    check character; the last character is the GB 32100 check character."""
    body = ""
    n = sequence
    for _ in range(5):
        n, r = divmod(n, len(_CREDIT_BODY_ALPHABET))
        body = _CREDIT_BODY_ALPHABET[r] + body
    organisation = "MA" + region_code[-1] + body  # 8 characters
    total = sum(_GB11714_ALPHABET.index(c) * w for c, w in zip(organisation, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    organisation += "X" if check == 10 else "0" if check == 11 else str(check)
    first17 = "91" + region_code + organisation
    return first17 + credit_code_check_char(first17)


# -- plain values -------------------------------------------------------------------------------------------

def display_answers(bundle: Bundle, answers: dict[str, Any]) -> dict[str, str]:
    """Every answer as the text a document prints: choices by their Chinese label, yes/no, numbers."""
    shown: dict[str, str] = {}
    for spec in bundle.fields:
        if spec.key not in answers or answers[spec.key] in (None, ""):
            continue
        value = answers[spec.key]
        if spec.type is FieldType.SELECT and spec.choices:
            shown[spec.key] = next((c.label.zh for c in spec.choices if c.value == value), str(value))
        elif spec.type is FieldType.BOOLEAN:
            shown[spec.key] = "是" if value is True else "否"
        elif spec.type in (FieldType.NUMBER, FieldType.INTEGER):
            number = Decimal(str(value))
            shown[spec.key] = format(number.normalize(), "f") if number == number.to_integral_value() \
                else format(number, "f")
        else:
            shown[spec.key] = str(value).strip()
    return shown


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def add_years(day: date, years: int) -> date:
    """The day before the same date `years` later: a 5-year licence from 2026-03-05 ends 2031-03-04."""
    try:
        later = day.replace(year=day.year + years)
    except ValueError:  # 29 February
        later = day.replace(year=day.year + years, day=28)
    return date.fromordinal(later.toordinal() - 1)


@dataclass
class PrintValues:
    """Everything a print template may use. Plain values only."""

    template: str
    title: str
    serial: str
    holder_name: str
    holder_code: str | None
    holder_code_label: str
    issuer: str
    issue_date: str
    valid_from: str
    valid_until: str  # "长期" or a Chinese date
    verify_url: str
    qr_png: str
    reference: str
    bundle_name: str
    item_name: str = ""
    legal_basis: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    # The 办结通知书: every item's outcome, and the results issued with it.
    outcome: str = ""
    items: list[dict[str, str]] = field(default_factory=list)
    applicant_name: str = ""
    submitted: str = ""
    ended: str = ""
    seal_name: str = ""
    seal_purpose: str = "电子证照专用章"
    seal_chars: list[dict[str, str]] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every string the page prints, for the glyph check."""
        out = [self.title, self.serial, self.holder_name, self.holder_code or "", self.holder_code_label,
               self.issuer, self.issue_date, self.valid_from, self.valid_until, self.verify_url, self.reference,
               self.bundle_name, self.item_name, self.legal_basis, self.outcome, self.applicant_name,
               self.submitted, self.ended, self.seal_name, self.seal_purpose]
        out += list(self.answers.values())
        out += [v for row in self.items for v in row.values()]
        return out


def qr_png(url: str) -> str:
    """The QR code as a data URI of a PNG with one pixel per module: ~400 bytes, drawn without smoothing
    (image-rendering: pixelated), so it prints sharp at any size and costs far less to lay out than SVG."""
    import segno

    return str(segno.make(url, error="m", micro=False).png_data_uri(scale=1, border=0))


def seal_characters(name: str, radius: float, centre: float, span_degrees: float = 250) -> list[dict[str, str]]:
    """Positions of the department name along the seal's upper arc, one character each, upright to the
    centre as on a paper seal."""
    import math

    count = len(name)
    span = min(span_degrees, 22.0 * count)
    start = -90 - span / 2
    step = span / (count - 1) if count > 1 else 0
    chars = []
    for i, char in enumerate(name):
        angle = start + i * step if count > 1 else -90
        rad = math.radians(angle)
        x = centre + radius * math.cos(rad)
        y = centre + radius * math.sin(rad)
        chars.append({"char": char, "x": f"{x:.2f}", "y": f"{y:.2f}", "rotate": f"{angle + 90:.2f}"})
    return chars


def spread(label: str) -> str:
    """Labels spread to four characters' width, as printed on licences: 名　　称, 住　　所, 类 别 码."""
    if len(label) == 2:
        return label[0] + "\u3000\u3000" + label[1]
    if len(label) == 3:
        return label[0] + "\u2002" + label[1] + "\u2002" + label[2]
    return label
