"""The workbenches' words, Chinese first with English beside, and dates and working time as staff say them.

One catalogue: `MESSAGES[key] = (zh-CN, en)`. Templates call `t("key", name=value)`; a key missing from the
catalogue shows as itself (and a test fails on it). Times are shown in Beijing time: 11月18日 14:30, with
the year only when it is not this year. Time left on a clock follows the clock's measure: working time in
working days and hours (剩余 2 个工作日 3 小时), wall time in hours and minutes (剩余 5 小时 20 分钟); late
clocks say by how much (已超时 5 小时).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from fastapi import Request

from schemas.reference import BUREAU_LABELS_ZH, CATEGORY_LABELS_ZH, Bureau, Category

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
LANG_COOKIE = "caseline_lang"
DAY = 86400


class Lang(StrEnum):
    ZH = "zh-CN"
    EN = "en"


def language_of(request: Request) -> Lang:
    """The language cookie's choice; Chinese unless the person switched."""
    return Lang.EN if request.cookies.get(LANG_COOKIE) == Lang.EN.value else Lang.ZH


MESSAGES: dict[str, tuple[str, str]] = {
    # the frame
    "app.name": ("Caseline 工作台", "Caseline workbench"),
    "app.unit_workbench": ("案件工作台", "Case workbench"),
    "app.jm_workbench": ("联席会议工作台", "Joint-meeting workbench"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "nav.queue": ("我的案件", "My cases"),
    "nav.triage": ("分拣队列", "Triage queue"),
    "nav.callbacks": ("待回访", "Awaiting callback"),
    "nav.all": ("全部案件", "All cases"),
    "nav.files": ("联席会议案卷", "Joint-meeting files"),
    "nav.board": ("本单位任务", "Our tasks"),
    "nav.sign_out": ("退出", "Sign out"),
    "nav.language": ("语言", "Language"),
    "nav.signed_in_as": ("当前身份", "Signed in as"),
    "lang.zh": ("中文", "中文"),
    "lang.en": ("English", "English"),
    "live.connected": ("实时更新已连接", "Live updates on"),
    "live.lost": ("实时更新已断开，正在重连…", "Live updates lost, reconnecting…"),
    "live.updated": ("列表已更新", "List updated"),
    # sign-in
    "signin.title": ("登录", "Sign in"),
    "signin.credential": ("单位凭证（令牌）", "Credential (token)"),
    "signin.credential_hint": (
        "由系统管理员发放；仅用于本次浏览器会话，不会出现在网址中。",
        "Issued by your administrator; kept for this browser session only, never in the address.",
    ),
    "signin.staff_id": ("工号或姓名", "Staff id or name"),
    "signin.staff_id_hint": ("记录在您所做的每一项操作上。", "Recorded on every action you take."),
    "signin.submit": ("登录", "Sign in"),
    "signin.failed": ("凭证无效，请检查后重试。", "That credential is not valid; check it and try again."),
    "signin.wrong_kind": ("此凭证不能登录本工作台。", "This credential cannot sign in to this workbench."),
    "signin.staff_required": ("请填写工号或姓名。", "Enter your staff id or name."),
    "signin.throttled": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed sign-ins; wait a few minutes and try again.",
    ),
    "signin.expired": ("会话已过期，请重新登录。", "Your session has ended; sign in again."),
    "signin.signed_out": ("您已退出。", "You are signed out."),
    "signin.dev_hint": ("开发环境凭证", "Development credentials"),
    # common
    "common.none": ("无", "none"),
    "common.colon": ("：", ": "),
    "common.list_sep": ("、", ", "),
    "deadline.pending": ("待时限监控确定", "pending (the SLA watch sets it)"),
    "deadline.running": ("计时中", "running"),
    "deadline.paused": ("已暂停计时", "paused"),
    "deadline.stopped": ("已停止计时", "stopped"),
    "common.dash": ("—", "—"),
    "common.submit": ("提交", "Submit"),
    "common.cancel": ("取消", "Cancel"),
    "common.search": ("搜索", "Search"),
    "common.filter": ("筛选", "Filter"),
    "common.all": ("全部", "All"),
    "common.back": ("返回列表", "Back to the list"),
    "common.version": ("版本", "Version"),
    "common.details": ("全部字段", "All fields"),
    "common.yes": ("是", "yes"),
    "common.no": ("否", "no"),
    "common.required": ("必填", "required"),
    "common.optional": ("选填", "optional"),
    "common.refs_hint": (
        "每行一个编号或链接（照片、文件）。",
        "One reference per line (photo or document id or link).",
    ),
    "error.title": ("无法完成", "Could not do that"),
    "error.stale": (
        "此案件在您查看后已被更新（现为第 {current} 版，您操作的是第 {expected} 版）。下面是最新情况，请确认后重新操作。",
        (
            "This changed after you opened it (now version {current}, you acted on version {expected}). "
            "Here it is as it stands now: check it and act again."
        ),
    ),
    "error.stale_file": (
        "此案卷在您查看后已被更新（现为第 {current} 版，您操作的是第 {expected} 版）。下面是最新情况，请确认后重新操作。",
        (
            "This file changed after you opened it (now version {current}, you acted on version {expected}). "
            "Here it is as it stands now: check it and act again."
        ),
    ),
    "error.refused": ("操作未被接受：{reason}", "Not accepted: {reason}"),
    "error.invalid": ("请检查：{reason}", "Please check: {reason}"),
    "error.csrf": (
        "页面已失效（安全校验未通过），请刷新后重试。",
        "This page is out of date (security check); reload it and try again.",
    ),
    "error.not_found": ("没有找到，或您无权查看。", "Not found, or not yours to see."),
    "error.forbidden": ("您无权执行此操作。", "You may not do that."),
    "done.saved": ("已记录。", "Recorded."),
    "form.required_field": ("请填写「{field}」", "{field} is required"),
    "form.too_long": ("「{field}」最多 {max} 个字", "{field} takes at most {max} characters"),
    "form.invalid_field": ("「{field}」的值无效", "{field} is not valid"),
    # queue
    "queue.title": ("案件队列", "Cases"),
    "queue.empty": ("没有符合条件的案件。", "No case matches."),
    "queue.count": ("共 {n} 件", "{n} cases"),
    "queue.search": ("搜索案件编号、小区或分类", "Search case id, compound or category"),
    "queue.state": ("状态", "State"),
    "queue.category": ("分类", "Category"),
    "queue.overdue_only": ("只看已超期限", "Overdue only"),
    "queue.case": ("案件", "Case"),
    "queue.compound": ("小区", "Compound"),
    "queue.complainants": ("投诉人数", "Complainants"),
    "queue.clocks": ("时限", "Deadlines"),
    "queue.unit": ("承办单位", "Handled by"),
    "queue.received": ("受理时间", "Received"),
    "queue.open_case": ("查看案件 {case}", "Open case {case}"),
    "queue.more": ("仅显示前 {n} 件，请用筛选缩小范围。", "Showing the first {n}; narrow the filters."),
    # clocks
    "clock.dispatch": ("派单", "Dispatch"),
    "clock.contact": ("响应", "Contact"),
    "clock.resolve": ("办结", "Resolve"),
    "clock.task": ("任务", "Task"),
    "clock.deadline": ("截止", "due"),
    "clock.paused": ("已暂停", "paused"),
    "clock.stopped_on_time": ("按时完成", "done on time"),
    "clock.stopped_late": ("超时完成", "done late"),
    "clock.none": ("无进行中的时限", "no running deadline"),
    "left.working": ("剩余 {d} 个工作日 {h} 小时", "{d} working days {h} h left"),
    "left.working_days": ("剩余 {d} 个工作日", "{d} working days left"),
    "left.hours": ("剩余 {h} 小时 {m} 分钟", "{h} h {m} min left"),
    "left.minutes": ("剩余 {m} 分钟", "{m} min left"),
    "left.days_hours": ("剩余 {d} 天 {h} 小时", "{d} days {h} h left"),
    "late.working": ("已超时 {d} 个工作日 {h} 小时", "{d} working days {h} h overdue"),
    "late.working_days": ("已超时 {d} 个工作日", "{d} working days overdue"),
    "late.hours": ("已超时 {h} 小时", "{h} h overdue"),
    "late.hours_minutes": ("已超时 {h} 小时 {m} 分钟", "{h} h {m} min overdue"),
    "late.minutes": ("已超时 {m} 分钟", "{m} min overdue"),
    "late.days_hours": ("已超时 {d} 天 {h} 小时", "{d} days {h} h overdue"),
    "status.on_track": ("正常", "on track"),
    "status.at_risk": ("临近超时", "at risk"),
    "status.breached": ("已超时", "overdue"),
    # case page
    "case.title": ("案件 {case}", "Case {case}"),
    "case.summary": ("案件概况", "Summary"),
    "case.complaint": ("投诉内容", "The complaint"),
    "case.description": ("问题描述", "What is wrong"),
    "case.address": ("事发地址", "Where"),
    "case.caller": ("来电人（脱敏）", "Caller (masked)"),
    "case.channel": ("来源渠道", "Channel"),
    "case.urgency": ("紧急程度", "Urgency"),
    "case.street": ("街道", "Street"),
    "case.rule": ("分派规则", "Routing rule"),
    "case.returns": ("退单次数", "Returns"),
    "case.reopens": ("重办次数", "Reopenings"),
    "case.due": ("办结期限", "Due"),
    "case.no_complaint": (
        "投诉原文尚未收到（受理服务的记录到达后显示）。",
        "The complaint's text has not arrived yet (it shows once intake's record is in).",
    ),
    "case.actions": ("可执行的操作", "What you can do"),
    "case.no_actions": (
        "此案件当前没有您可执行的操作。",
        "There is nothing you can do on this case right now.",
    ),
    "case.history": ("办理经过", "History"),
    "case.history_hint": (
        "受理、分派、联席会议和时限监控记录的全部事实，按时间先后。",
        "Every fact intake, routing, the joint meeting and the SLA watch recorded, oldest first.",
    ),
    "case.changed": (
        "此案件刚刚有新进展，以上内容已更新。",
        "This case has just changed; what you see above is up to date.",
    ),
    "case.reload_actions": ("刷新操作区", "Refresh the actions"),
    "history.when": ("时间", "When"),
    "history.service": ("环节", "Where"),
    "history.what": ("事项", "What"),
    "history.who": ("办理人", "Who"),
    "history.why": ("原因与说明", "Why"),
    "service.intake": ("受理", "Intake"),
    "service.routing": ("分派办理", "Routing"),
    "service.jointmeeting": ("联席会议", "Joint meeting"),
    "service.sla": ("时限监控", "SLA watch"),
    # actions (unit workbench)
    "action.accept": ("签收", "Accept"),
    "action.accept_help": ("确认本单位承办此案件。", "Confirm your unit takes this case on."),
    "action.progress": ("记录进展", "Note progress"),
    "action.progress_note": ("进展情况", "What was done"),
    "action.photo_refs": ("照片编号", "Photo references"),
    "action.resolve": ("办结", "Resolve"),
    "action.resolution": ("处理结果", "How it was resolved"),
    "action.evidence_refs": ("证明材料编号", "Evidence references"),
    "action.return": ("退单", "Return"),
    "action.return_help": (
        "不属于本单位职责的案件，说明依据后退回，由系统按规则重新分派。",
        "Not your unit's duty: say why, and routing sends it on by its rules.",
    ),
    "action.return_rule": ("派到本单位的规则", "The rule that sent it here"),
    "action.return_ground": ("退单依据", "Ground"),
    "action.return_reason": ("退单理由", "Reason"),
    "ground.not_our_duty": ("不属于本单位职责", "Not our unit's duty"),
    "ground.outside_area": ("不在本辖区", "Outside our area"),
    "ground.other_department": ("应由其他部门办理", "Another department's matter"),
    "ground.duplicate": ("重复工单", "Duplicate order"),
    "ground.other": ("其他", "Other"),
    "action.route": ("分派", "Place"),
    "action.route_help": (
        "将案件派给中心、街道或社区（填写单位编号，如 ST01 或 ST01-CM01）。",
        "Send the case to the centre, a street or a community (its code, e.g. ST01 or ST01-CM01).",
    ),
    "action.route_unit": ("承办单位编号", "Unit code"),
    "action.escalate": ("申请联席会议", "Ask for the joint meeting"),
    "action.escalate_late": ("因超时提请联席会议", "Escalate for lateness"),
    "action.escalate_reason": ("申请理由", "Why"),
    "action.callback": ("记录回访", "Record the callback"),
    "action.callback_outcome": ("回访结果", "Outcome"),
    "action.callback_note": ("回访记录", "Callback notes"),
    "action.reopen": ("重新办理", "Reopen"),
    "action.reopen_detail": ("重复投诉内容", "What the repeat complaint says"),
    "action.recategorise": ("更正分类", "Correct the category"),
    "action.recategorise_help": (
        "分类有误或系统无法判断时，由中心确定正确分类；案件按新分类的规则重新分派或提请联席会议。",
        "When the category is wrong or uncertain, the centre decides it; the case is routed again by its rule.",
    ),
    "action.recategorise_candidates": ("智能分类候选：", "The classifier's candidates: "),
    "action.recategorise_to": ("正确分类", "The right category"),
    "action.recategorise_reason": ("更正理由", "Why"),
    "outcome.satisfied": ("满意", "satisfied"),
    "outcome.basically_satisfied": ("基本满意", "basically satisfied"),
    "outcome.dissatisfied": ("不满意", "dissatisfied"),
    # joint meeting workbench
    "jm.files_title": ("联席会议案卷", "Joint-meeting files"),
    "jm.file_title": ("案卷 {file}", "File {file}"),
    "jm.filter_needs_meeting": ("待上会", "Needs a meeting"),
    "jm.filter_open": ("办理中", "Open"),
    "jm.filter_completed": ("已办结", "Completed"),
    "jm.file": ("案卷", "File"),
    "jm.cases": ("关联案件", "Cases"),
    "jm.lead": ("牵头单位", "Lead"),
    "jm.progress": ("任务完成", "Tasks done"),
    "jm.needs_meeting": ("需上会研究", "needs a meeting"),
    "jm.completed": ("已办结", "completed"),
    "jm.open": ("办理中", "open"),
    "jm.no_files": ("没有符合条件的案卷。", "No file matches."),
    "jm.tasks": ("执法任务", "Enforcement tasks"),
    "jm.task": ("任务", "Task"),
    "jm.bureau": ("成员单位", "Bureau"),
    "jm.action": ("任务内容", "Action"),
    "jm.done_when": ("完成标准", "Done when"),
    "jm.due": ("期限", "Due"),
    "jm.due_by_policy": (
        "留空则按时限政策（工作日计）：{when}",
        "Leave it empty for the SLA policy's deadline (working days): {when}",
    ),
    "jm.status": ("状态", "Status"),
    "jm.overdue": ("已逾期", "overdue"),
    "jm.last_note": ("最新说明", "Latest note"),
    "jm.meetings": ("会议", "Meetings"),
    "jm.no_meetings": ("尚未安排会议。", "No meeting scheduled yet."),
    "jm.meeting_at": ("{when} 召开", "at {when}"),
    "jm.meeting_held": ("已召开", "held"),
    "jm.meeting_planned": ("待召开", "planned"),
    "jm.schedule": ("安排会议", "Schedule a meeting"),
    "jm.scheduled_for": ("会议时间（北京时间）", "When (Beijing time)"),
    "jm.place": ("地点", "Place"),
    "jm.hold": ("记录会议决定", "Record the meeting"),
    "jm.attendees": ("参会单位", "Attending bureaus"),
    "jm.minutes": ("会议纪要", "Minutes"),
    "jm.decisions": ("会议决定", "Decisions"),
    "jm.decision_confirm": ("确认（可修改）任务 {task}", "Confirm (or revise) task {task}"),
    "jm.decision_keep": ("纳入本次会议决定", "Part of this meeting's decisions"),
    "jm.decision_new": ("新增任务", "A new task"),
    "jm.decision_new_bureau": (
        "新任务的成员单位（不新增则留空）",
        "Bureau of a new task (leave empty for none)",
    ),
    "jm.assign": ("交办新任务", "Assign a task"),
    "jm.reassign": ("改派", "Reassign"),
    "jm.reassign_to": ("改派给", "To"),
    "jm.extend": ("延期", "Extend"),
    "jm.new_due": ("新期限（北京时间）", "New deadline (Beijing time)"),
    "jm.cancel": ("撤销任务", "Cancel the task"),
    "jm.reason": ("理由", "Reason"),
    "jm.answer_unable": ("答复“无法办理”", "Answer the “unable”"),
    "jm.answer": ("答复意见", "Answer"),
    "jm.verify": ("现场核验并办结", "Verify on site and complete"),
    "jm.verify_help": (
        "所有任务均已完成后，现场核验问题已消除，关联案件转入回访。",
        "Once every task is done and the problem is gone on site; the cases go to callback.",
    ),
    "jm.summary": ("核验结论", "What was found on site"),
    "jm.no_office_actions": ("此案卷当前没有可执行的操作。", "Nothing can be done on this file right now."),
    "board.title": ("{bureau} · 任务看板", "{bureau} · task board"),
    "board.open": ("待办", "To do"),
    "board.overdue": ("已逾期", "Overdue"),
    "board.completed": ("已完成", "Done"),
    "board.empty": ("暂无任务。", "No task."),
    "board.report": ("报告", "Report"),
    "board.note": ("说明", "Note"),
    "board.evidence": ("证明材料编号", "Evidence references"),
    "board.evidence_hint": (
        "报告完成时必填，每行一个（现场照片、检查记录、处罚决定书编号）。",
        "Required when done; one per line (photo, inspection record, decision number).",
    ),
    "board.unable_reason": ("无法办理的原因", "Why it cannot be done"),
    "board.evidence_required": (
        "报告完成须至少填写一项证明材料编号。", "A done report needs at least one evidence reference."
    ),
    "board.reason_required": ("报告无法办理须说明原因。", "An unable report needs a reason."),
    "board.nothing": ("此任务当前无需报告。", "Nothing to report on this task now."),
    "report.accepted": ("签收任务", "Accept the task"),
    "report.progress": ("报告进展", "Report progress"),
    "report.done": ("报告完成", "Report done"),
    "report.unable": ("报告无法办理", "Report unable"),
    "task.assigned": ("待签收", "assigned"),
    "task.accepted": ("已签收", "accepted"),
    "task.in_progress": ("办理中", "in progress"),
    "task.unable": ("无法办理", "unable"),
    "task.done": ("已完成", "done"),
    "task.cancelled": ("已撤销", "cancelled"),
    "task.reassigned": ("已改派", "reassigned"),
    # states, levels, channels, urgency
    "state.opened": ("已受理", "opened"),
    "state.routed": ("待签收", "routed"),
    "state.accepted": ("已签收", "accepted"),
    "state.in_progress": ("办理中", "in progress"),
    "state.escalated": ("联席会议办理中", "with the joint meeting"),
    "state.resolved": ("已办结待回访", "resolved, awaiting callback"),
    "state.closed": ("已结案", "closed"),
    "level.centre": ("区物管中心", "district centre"),
    "level.street": ("街道", "street"),
    "level.community": ("社区", "community"),
    "channel.hotline": ("12345热线", "12345 hotline"),
    "channel.petition": ("信访", "petition"),
    "channel.web": ("网络", "web"),
    "channel.walk_in": ("上门投诉", "walk-in"),
    "urgency.normal": ("一般", "normal"),
    "urgency.urgent": ("紧急", "urgent"),
    "unit.centre-triage": ("区物管中心分拣队列", "the centre's triage queue"),
    "unit.centre": ("区物管中心", "the district centre"),
    "unit.joint_meeting": ("联席会议", "the joint meeting"),
    # the history: events, their facts and the words of their vocabularies
    "event.ComplaintReceived": ("投诉受理", "Complaint received"),
    "event.ComplaintMerged": ("同一问题的新投诉并入", "Further complaint merged in"),
    "event.CaseOpened": ("立案", "Case opened"),
    "event.CaseRouted": ("分派", "Routed"),
    "event.CaseEscalated": ("提交联席会议", "Escalated to the joint meeting"),
    "event.CaseAccepted": ("签收", "Accepted"),
    "event.CaseProgressNoted": ("记录进展", "Progress noted"),
    "event.CaseResolved": ("办结", "Resolved"),
    "event.CaseCalledBack": ("回访", "Called back"),
    "event.CaseClosed": ("结案", "Closed"),
    "event.CaseReopened": ("重新办理", "Reopened"),
    "event.CaseReturned": ("退单", "Returned"),
    "event.CoComplainantAdded": ("新增投诉人", "Co-complainant added"),
    "event.JointMeetingFileOpened": ("联席会议立卷", "Joint-meeting file opened"),
    "event.CaseAddedToFile": ("并入联席会议案卷", "Added to a joint-meeting file"),
    "event.EnforcementTaskAssigned": ("交办执法任务", "Enforcement task assigned"),
    "event.JointMeetingScheduled": ("安排会议", "Meeting scheduled"),
    "event.JointMeetingHeld": ("召开会议", "Meeting held"),
    "event.EnforcementTaskConfirmed": ("会议确认任务", "Task confirmed by the meeting"),
    "event.EnforcementTaskReassigned": ("任务改派", "Task reassigned"),
    "event.EnforcementTaskExtended": ("任务延期", "Task extended"),
    "event.EnforcementTaskCancelled": ("任务撤销", "Task cancelled"),
    "event.EnforcementTaskReported": ("成员单位报告", "Bureau reported"),
    "event.EnforcementTaskUnableAnswered": ("答复无法办理", "Unable answered"),
    "event.EnforcementTaskOverdue": ("任务逾期", "Task overdue"),
    "event.FileReferredToMeeting": ("提交会议研究", "Referred to the meeting"),
    "event.JointEnforcementCompleted": ("联合执法完成并核验", "Joint enforcement completed and verified"),
    "event.SlaClockStarted": ("时限开始计时", "Clock started"),
    "event.SlaClockStopped": ("时限停止", "Clock stopped"),
    "event.SlaClockPaused": ("时限暂停", "Clock paused"),
    "event.SlaClockResumed": ("时限恢复", "Clock resumed"),
    "event.SlaClockRetargeted": ("时限调整", "Clock retargeted"),
    "event.SlaAtRisk": ("临近超时预警", "At risk"),
    "event.SlaBreached": ("超时", "Breached"),
    "event.SlaCallbackRecorded": ("回访计入考核", "Callback recorded"),
    "field.description": ("问题描述", "What is wrong"),
    "field.address": ("地址", "Address"),
    "field.reason": ("原因", "Reason"),
    "field.trigger": ("起因", "Trigger"),
    "field.rule_id": ("规则", "Rule"),
    "field.unit_name": ("单位", "Unit"),
    "field.level": ("层级", "Level"),
    "field.note": ("说明", "Note"),
    "field.resolution": ("处理结果", "Resolution"),
    "field.evidence_refs": ("证明材料", "Evidence"),
    "field.photo_refs": ("照片", "Photos"),
    "field.outcome": ("结果", "Outcome"),
    "field.detail": ("内容", "Detail"),
    "field.merge_reason": ("并入依据", "Why merged"),
    "field.complainant_count": ("投诉人数", "Complainants"),
    "field.return_count": ("退单次数", "Returns"),
    "field.reopen_count": ("重办次数", "Reopenings"),
    "field.lead_bureau": ("牵头单位", "Lead"),
    "field.bureaus": ("成员单位", "Bureaus"),
    "field.bureau": ("成员单位", "Bureau"),
    "field.from_bureau": ("原单位", "From"),
    "field.to_bureau": ("改派给", "To"),
    "field.action": ("任务", "Action"),
    "field.done_when": ("完成标准", "Done when"),
    "field.due_at": ("期限", "Due"),
    "field.scheduled_for": ("会议时间", "When"),
    "field.place": ("地点", "Place"),
    "field.attendees": ("参会单位", "Attending"),
    "field.minutes": ("纪要", "Minutes"),
    "field.kind": ("类型", "Kind"),
    "field.evidence": ("证明材料", "Evidence"),
    "field.answer": ("答复", "Answer"),
    "field.summary": ("结论", "Summary"),
    "field.verified_by": ("核验人", "Verified by"),
    "field.policy_rule": ("时限规则", "SLA rule"),
    "field.deadline": ("截止", "Deadline"),
    "field.cause": ("原因", "Cause"),
    "field.on_time": ("是否按时", "On time"),
    "trigger.cross_department": ("跨部门问题", "cross-department"),
    "trigger.group_complaint": ("群体投诉", "group complaint"),
    "trigger.repeated_return": ("多次退单", "returned repeatedly"),
    "trigger.repeated_reopening": ("多次重办", "reopened repeatedly"),
    "trigger.unit_request": ("承办单位申请", "the unit asked"),
    "trigger.sla_watch": ("超时提请", "late"),
    "kind.accepted": ("签收", "accepted"),
    "kind.progress": ("进展", "progress"),
    "kind.done": ("完成", "done"),
    "kind.unable": ("无法办理", "unable"),
    "kind.dispatch": ("派单", "dispatch"),
    "kind.contact": ("响应", "contact"),
    "kind.resolve": ("办结", "resolve"),
    "kind.task": ("任务", "task"),
    "kind.complaint": ("投诉", "complaint"),
    "kind.report": ("举报", "report"),
    "kind.help": ("求助", "request for help"),
    "kind.inquiry": ("咨询", "inquiry"),
    "kind.suggestion": ("建议", "suggestion"),
    "cause.CaseDispatched": ("已派单", "dispatched"),
    "cause.CaseAccepted": ("已签收", "accepted"),
    "cause.CaseProgressNoted": ("已有进展", "progress noted"),
    "cause.CaseResolved": ("已办结", "resolved"),
    "cause.CaseClosed": ("已结案", "closed"),
    "cause.CaseEscalated": ("已提交联席会议", "escalated"),
}

CATEGORY_LABELS_EN: dict[Category, str] = {
    Category.SANITATION: "sanitation",
    Category.COMMON_AREA_REPAIR: "common-area repair",
    Category.SECURITY_ACCESS: "security and access",
    Category.SERVICE_QUALITY: "service quality",
    Category.PROPERTY_FEES: "property fees",
    Category.UNREASONABLE_FEES: "unreasonable fees",
    Category.ILLEGAL_CONSTRUCTION: "illegal construction",
    Category.FIRE_HAZARD: "fire hazard",
    Category.MAINTENANCE_FUND: "maintenance fund",
    Category.OWNERS_COMMITTEE: "owners' committee",
    Category.OWNER_COMPANY_DISPUTE: "owner–company dispute",
    Category.NOISE_POLLUTION: "noise",
    Category.ELEVATOR_EQUIPMENT: "lifts and special equipment",
    Category.UNMANAGED_COMPOUND: "unmanaged compound",
    Category.COMPANY_EXIT_TAKEOVER: "company exit and takeover",
}

BUREAU_LABELS_EN: dict[Bureau, str] = {
    Bureau.CENTRE: "District property centre",
    Bureau.HOUSING_CONSTRUCTION: "Housing and construction",
    Bureau.MARKET_SUPERVISION: "Market supervision",
    Bureau.JUSTICE: "Justice",
    Bureau.PUBLIC_SECURITY: "Public security",
    Bureau.ENVIRONMENTAL_PROTECTION: "Environmental protection",
    Bureau.FIRE_RESCUE: "Fire and rescue",
    Bureau.CITY_APPEARANCE: "City appearance",
    Bureau.STREET_OFFICE: "Street office",
}


class Translator:
    """`t(key, **values)` in one language, plus the labels and formats the pages need."""

    def __init__(self, lang: Lang, now: datetime | None = None) -> None:
        self.lang = lang
        self.now = now or datetime.now(UTC)

    @property
    def zh(self) -> bool:
        return self.lang is Lang.ZH

    def __call__(self, key: str, **values: object) -> str:
        found = MESSAGES.get(key)
        if found is None:
            return key
        text = found[0] if self.zh else found[1]
        return text.format(**values) if values else text

    def label(self, prefix: str, value: object, fallback: str | None = None) -> str:
        """A vocabulary word (`state.routed`, `task.done`); unknown words show as they are."""
        key = f"{prefix}.{value}"
        return self(key) if key in MESSAGES else (fallback or str(value))

    def category(self, value: str | None) -> str:
        try:
            category = Category(value or "")
        except ValueError:
            return value or "—"
        return CATEGORY_LABELS_ZH[category] if self.zh else CATEGORY_LABELS_EN[category]

    def bureau(self, value: str | None) -> str:
        try:
            bureau = Bureau(value or "")
        except ValueError:
            return value or "—"
        return BUREAU_LABELS_ZH[bureau] if self.zh else BUREAU_LABELS_EN[bureau]

    def when(self, moment: datetime | str | None) -> str:
        """11月18日 14:30 (Beijing time); the year only when it is not this year's."""
        if moment is None:
            return "—"
        if isinstance(moment, str):
            try:
                moment = datetime.fromisoformat(moment)
            except ValueError:
                return str(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(BEIJING)
        this_year = local.year == self.now.astimezone(BEIJING).year
        if self.zh:
            day = (
                f"{local.month}月{local.day}日"
                if this_year
                else f"{local.year}年{local.month}月{local.day}日"
            )
            return f"{day} {local:%H:%M}"
        return local.strftime("%d %b %H:%M" if this_year else "%d %b %Y %H:%M").lstrip("0")

    def time_left(self, seconds: float, working: bool) -> str:
        """剩余 2 个工作日 3 小时 / 已超时 5 小时: working time in working days, wall time in hours."""
        late = seconds < 0
        total = int(abs(seconds))
        days, hours, minutes = total // DAY, total % DAY // 3600, total % 3600 // 60
        head = "late" if late else "left"
        if working and days:
            return self(f"{head}.working", d=days, h=hours) if hours else self(f"{head}.working_days", d=days)
        if not working and days:
            return self(f"{head}.days_hours", d=days, h=hours)
        if hours:
            if late and not minutes:
                return self("late.hours", h=hours)
            return self("late.hours_minutes" if late else "left.hours", h=hours, m=minutes)
        return self(f"{head}.minutes", m=minutes if late else max(minutes, 1))  # never "0 min left"


def catalogue_gaps(keys: Mapping[str, object] | set[str]) -> list[str]:
    """The keys a template uses that the catalogue lacks (for the test that keeps them in step)."""
    return sorted(k for k in keys if k not in MESSAGES)
