"""The message centre (站内消息): words for each notification kind, in the reader's language."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from onestop.applications.models import Notification


def message_text(notification: Notification) -> str:
    data: dict[str, Any] = notification.data or {}
    reference = data.get("reference", "")
    kind = notification.kind
    texts = {
        "submitted": lambda: _("Your matter %(ref)s was submitted.", ref=reference),
        "completed": lambda: _("Your matter %(ref)s is completed: all results are ready.", ref=reference),
        "partially_completed": lambda: _("Your matter %(ref)s has ended; some items were not approved.", ref=reference),
        "rejected": lambda: _("Your matter %(ref)s was not approved.", ref=reference),
        "withdrawn": lambda: _("Your matter %(ref)s was withdrawn.", ref=reference),
        "supplement_requested": lambda: _("A department asks for corrections on %(ref)s.", ref=reference),
        "not_supplemented": lambda: _("An item of %(ref)s ended because the corrections did not arrive in time.", ref=reference),
        "step_extended": lambda: _("A department extended its time limit on %(ref)s.", ref=reference),
        "step_accepted": lambda: _("A department accepted %(ref)s.", ref=reference),
        "step_approved": lambda: _("A department approved its item of %(ref)s.", ref=reference),
        "step_rejected": lambda: _("A department did not approve its item of %(ref)s.", ref=reference),
        "step_received": lambda: _("New in your queue: %(ref)s.", ref=reference),
        "step_warning": lambda: _("Due soon: %(ref)s.", ref=reference),
        "step_overdue": lambda: _("Overdue: %(ref)s.", ref=reference),
        "step_overdue_3": lambda: _("Reminder: %(ref)s is 3 working days overdue.", ref=reference),
        "step_overdue_10": lambda: _("Formal notice: %(ref)s is 10 working days overdue.", ref=reference),
        "step_post_check_due": lambda: _("A post-approval check is due: %(ref)s.", ref=reference),
        "step_assigned": lambda: _("The department head gave you a step of %(ref)s.", ref=reference),
        "step_supplement": lambda: _("A department asks for corrections on %(ref)s.", ref=reference),
        "post_check_revoked": lambda: _("A result of %(ref)s was revoked after the post-approval check.", ref=reference),
        "certificates_issued": lambda: _("The results of %(ref)s are issued: download them from the matter's page.", ref=reference),
        "certificate_revoked": lambda: _("A certificate of %(ref)s was revoked (%(serial)s).", ref=reference, serial=data.get("detail", "")),
        "post_check_confirmed": lambda: _("The post-approval check of %(ref)s confirmed your commitment.", ref=reference),
        "step_suspended": lambda: _("A department suspended its work on %(ref)s; the time limit is paused.", ref=reference),
        "supplement_due_soon": lambda: _("Reminder: the corrections for %(ref)s are due within 1 working day.", ref=reference),
        "result_posted": lambda: _("A result of %(ref)s was posted to you (tracking number %(no)s).", ref=reference,
                                   no=str(data.get("detail", "")).split(":", 1)[-1]),
        "results_handed_over": lambda: _("The results of %(ref)s were handed over at the service hall's window.",
                                         ref=reference),
        "results_mailed": lambda: _("The results of %(ref)s were mailed to you (tracking number %(no)s).", ref=reference,
                                    no=str(data.get("detail", "")).split(":", 1)[-1]),
        "result_delivered": lambda: _("A result of %(ref)s was delivered.", ref=reference),
        "result_returned": lambda: _("A result of %(ref)s came back to the department; please check your address.", ref=reference),
        "rating_replied": lambda: _("The department head answered your rating of %(ref)s.", ref=reference),
        "bad_rating": lambda: _("A bad rating on %(ref)s is to be answered within 5 working days.", ref=reference),
        "rating_appealed": lambda: _("A staff member appealed a rating on %(ref)s.", ref=reference),
        "benefit_offered": lambda: _("A benefit is offered to your enterprise without applying (免申即享): ¥%(amount)s. Confirm it under My benefits.", amount=data.get("amount", "")),
        "notice_objection": lambda: _("An objection was lodged against the public notice of %(ref)s; the notice is paused while it is checked.", ref=reference),
        "notice_resumed": lambda: _("The objection to %(ref)s was found unfounded; the public notice runs on.", ref=reference),
        "objection_lodged": lambda: _("An objection to the public notice of %(ref)s is waiting for your check.", ref=reference),
        "rating_overdue": lambda: _("The answer to a bad rating on %(ref)s is overdue.", ref=reference),
    }
    text = texts.get(kind)
    return text() if text else _("News about %(ref)s.", ref=reference)
