"""Helpers for driving the one form through the test client: start a draft, post its steps, submit."""

from __future__ import annotations

import io
import re
from typing import Any

from onestop.catalog.operations import bundle_of, current_version
from tests.factories import PASSWORD, pdf_bytes


def hidden(html: str, name: str) -> str:
    tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
    assert tag, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def csrf(client, url: str) -> str:
    return hidden(client.get(url).get_data(as_text=True), "csrf_token")


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf(client, "/login")})


def logout(client) -> None:
    client.post("/logout", data={"csrf_token": csrf(client, "/messages")})


def start(client, code: str) -> str:
    """Open the form of a matter; returns the draft's URL prefix (/drafts/<id>)."""
    response = client.get(f"/apply/{code}")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"].rsplit("/", 1)[0]


def field_value(html: str, key: str) -> str | None:
    match = re.search(rf'<input [^>]*id="{key}"[^>]*>', html)
    if match:
        value = re.search(r'value="([^"]*)"', match.group(0))
        return value.group(1) if value else ""
    return None


def post_step(client, draft: str, step: str, data: dict[str, Any], action: str = "next", files: dict | None = None):
    page = client.get(f"{draft}/{step}").get_data(as_text=True)
    body = {"csrf_token": hidden(page, "csrf_token"), "action": action, **data}
    if files:
        body.update(files)
        return client.post(f"{draft}/{step}", data=body, content_type="multipart/form-data")
    return client.post(f"{draft}/{step}", data=body)


def section_data(code: str, section_key: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The form fields of one section, as a browser sends them (ticked boxes "y", unticked absent)."""
    bundle = bundle_of(current_version(code))
    section = next(s for s in bundle.sections if s.key == section_key)
    data: dict[str, Any] = {}
    for spec in section.fields:
        if spec.key not in answers:
            continue
        value = answers[spec.key]
        if spec.type.value == "boolean":
            if value:
                data[spec.key] = "y"
        else:
            data[spec.key] = str(value)
    return data


def fill(client, code: str, answers: dict[str, Any], uploads: dict[str, bytes | tuple[bytes, str]] | None = None,
         keep_prefilled: bool = True) -> str:
    """Walk every step with these answers (prefilled values kept unless overridden); returns the draft URL."""
    bundle = bundle_of(current_version(code))
    draft = start(client, code)
    for section in bundle.sections:
        page = client.get(f"{draft}/{section.key}").get_data(as_text=True)
        data = section_data(code, section.key, answers)
        if keep_prefilled:
            for spec in section.fields:
                if spec.key not in data and spec.type.value != "boolean":
                    value = field_value(page, spec.key)
                    if value:
                        data[spec.key] = value
        response = post_step(client, draft, section.key, data)
        assert response.status_code == 302, (section.key, response.get_data(as_text=True)[-3000:])
    if uploads:
        files = {}
        for key, content in uploads.items():
            body, name = content if isinstance(content, tuple) else (content, f"{key}.pdf")
            files[f"file_{key}"] = (io.BytesIO(body), name)
        response = post_step(client, draft, "materials", {}, files=files)
        assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return draft


def submit(client, draft: str):
    page = client.get(f"{draft}/check").get_data(as_text=True)
    return client.post(f"{draft}/submit", data={"csrf_token": hidden(page, "csrf_token")})


RESTAURANT_SHOP = {"shop_name": "豫味小馆（花园路店）", "floor_area": "350", "seats": "120", "food_category": "hot",
                   "food_safety_manager": "赵强", "daily_drainage": "12"}
RESTAURANT_FILES = ("premises_proof", "floor_plan", "food_safety_rules", "fire_safety_plan", "drainage_plan")


def restaurant_files() -> dict[str, bytes]:
    return {key: pdf_bytes() for key in RESTAURANT_FILES}
