"""What the learner is told: durations, why an interval earned nothing, why a session waits for review.

Kept apart from the rules (``service``) so that both the player's acknowledgements and the review pages say the
same sentences; ``service`` re-exports them.
"""

from __future__ import annotations

from lms.tracking.settings import TrackingSettings


def format_duration(ms: float) -> str:
    """Say a duration the way the player shows it: "45 秒", "2 分 10 秒", "1 小时 5 分"."""
    seconds = int(round(ms / 1000))
    if seconds < 1:
        return "不到 1 秒"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} 小时 {minutes} 分" if minutes else f"{hours} 小时"
    if minutes:
        return f"{minutes} 分 {secs} 秒" if secs else f"{minutes} 分钟"
    return f"{secs} 秒"


def explain(reason: str, ms: float = 0, settings: TrackingSettings | None = None, **values) -> str:
    """Return the one plain sentence that tells the learner why an interval earned nothing, and how long it was."""
    settings = settings or TrackingSettings()
    d = format_duration(ms)
    sentences = {
        "gap": f"网络中断 {d}，未计时",
        "rate": "检测到倍速播放，本段不计时",
        "seek_ahead": "拖动到尚未观看的位置，本段不计时",
        "seek": "跳转了播放进度，本段不计时",
        "seek_back": "回退了播放进度，本段不计时",
        "beyond_verified": "当前位置超出已验证的观看进度"
                           f"（{format_duration(values.get('furthest_ms', 0))}处），请回到该处继续，本段不计时",
        "paused": f"已暂停 {d}，暂停期间不计时",
        "stalled": f"视频缓冲 {d}，未计时",
        "check_pending": "请先完成注意力验证，验证期间不计时",
        "overlap": "与您在其他页面的播放时间重叠，重叠部分不计时",
        "daily_cap": f"今日在线学习已达 {settings.daily_cap_hours:g} 小时上限，今天不再计时",
        "superseded": "已在其他设备或页面继续播放，本页停止计时",
        "bad_token": "播放记录校验未通过（可能是网络重发或页面已过期），本次不计时，正在重新连接",
        "too_soon": "进度上报过于频繁，本次不计时",
        "check_missed": f"注意力验证超时未作答，上次验证以来的 {d}不计入",
        "check_wrong": f"注意力验证回答错误，上次验证以来的 {d}不计入",
        "closed": "本次播放已结束，请重新打开课件",
        "idle": "长时间没有播放记录，本次播放已结束，请重新打开课件",
        "takeover": "已在其他设备或页面继续播放，本页停止计时",
        "no_session": "播放记录不存在或已过期，请刷新页面",
        "held": "本次学习记录存在异常，已提交人工审核，审核通过后计入学时",
    }
    return sentences.get(reason, f"本段未计时（{d}）")


def pending_note(settings: TrackingSettings | None = None) -> str:
    """Say when time and coverage waiting for an attention check count: at the next passed check, and roughly when
    that comes (the mean of the random draw, never the draw itself)."""
    settings = settings or TrackingSettings()
    every = format_duration(settings.check_mean_interval_s * 1000)
    return (f"待确认的计时和视频覆盖在下一次注意力验证通过后计入。验证在播放中随机出现，平均每播放约 {every}一次；"
            "看完视频或离开页面时也会请您验证。")


# Why a held session waits for review, one sentence per evidence type that added risk (RISK_POLICY), said to the
# learner: what was seen and what happens if it was a mistake. Never a threshold or a weight: those would teach a
# cheat how far to go. Strongest signs first.
HOLD_REASONS: dict[str, str] = {
    "automation": "浏览器报告正受自动化程序控制；如未使用此类工具，审核员核实后会计入学时。",
    "regular_cadence": "播放进度的上报节奏像程序一样规律，不像有人在观看；"
                       "如未使用刷课工具或脚本，审核员核实后会计入学时。",
    "address_mixed_orgs": "同一网络地址短时间内有多个不同单位的账号在学习；"
                          "如是公共场所或共用网络，审核员核实后会计入学时。",
    "device_relay": "同一台设备上多个账号先后学习了同一课件；"
                    "如是共用电脑，审核员核实后会计入学时，今后请各自登录自己的账号学习。",
    "shared_address": "同一网络地址短时间内有多个账号在学习；如是单位或家庭共用网络，审核员核实后会计入学时。",
    "shared_device": "同一台设备上有多个账号在学习；"
                     "如是共用电脑，审核员核实后会计入学时，今后请各自登录自己的账号学习。",
    "check_fast": "注意力验证的作答快于常人；如确为本人作答，审核员核实后会计入学时。",
    "rate": "视频播放得比实际时间快（倍速播放）；如未改动播放速度，审核员核实后会计入学时。",
    "rate_setting": "页面的播放速度被改动过；如未使用插件或脚本改变播放速度，审核员核实后会计入学时。",
    "check_missed": "注意力验证多次超时未作答；如只是暂时离开，审核员核实后会计入学时，学习时请留在页面前。",
    "concurrent": "同一账号在多个页面或设备上同时播放；"
                  "如是您本人换了设备，审核员核实后会计入学时，今后请只在一处播放。",
    "seek_ahead": "播放进度被拖到了尚未观看的位置；如是误操作，审核员核实后会计入学时。",
    "check_wrong": "注意力验证多次回答错误；如是输入失误，审核员核实后会计入学时。",
    "bad_token": "播放记录的校验多次未通过；如是网络不稳定所致，审核员核实后会计入学时。",
    "played_during_check": "注意力验证期间视频仍在播放；如未使用插件或脚本，审核员核实后会计入学时。",
    "flood": "播放进度上报得过于频繁，不像正常的播放页面；"
             "如未使用插件或脚本，审核员核实后会计入学时。",
    "superseded_heartbeat": "已被其他页面接管的播放仍在上报进度；"
                            "如是您本人在多处打开了课件，审核员核实后会计入学时。",
    "beyond_verified": "播放位置超出了已验证的观看进度；如是误操作，审核员核实后会计入学时。",
    "hidden_playing": "页面隐藏（切换到其他窗口或标签页）时视频仍在播放；"
                      "如未使用插件或脚本，审核员核实后会计入学时。",
    "seek_attempt": "多次试图把进度拖到尚未观看的位置；如是误操作，审核员核实后会计入学时。",
    "rate_attempt": "多次试图改变播放速度（页面已恢复为正常速度）；如是误操作，审核员核实后会计入学时。",
    "similar_device": "同一网络地址有配置相同的浏览器为多个账号学习同一课件；"
                      "如是单位统一配置的电脑，审核员核实后会计入学时。",
}


def hold_reasons(event_types) -> list[str]:
    """Return the learner's sentences for why a session is held, given the event types it carries (any order)."""
    present = set(event_types or ())
    return [sentence for etype, sentence in HOLD_REASONS.items() if etype in present]
