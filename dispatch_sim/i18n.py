"""The message catalogue: every word the report, the verdict and the map show, in Chinese and English.

One table, one place: a key maps to its English and Chinese text (``str.format`` fields where a
number goes in). :func:`catalog` returns a lookup for one language; a key missing in one language
is a test failure (``tests/test_report.py``), so both stay complete. Team names are shown as the
scenario writes them, in either language.
"""

from __future__ import annotations

LANGS = ("zh", "en")

#: key -> (English, Chinese)
MESSAGES: dict[str, tuple[str, str]] = {
    # verdict
    "verdict.holds_all": ("HOLDS in all {n} townships", "承诺成立：全部 {n} 个镇街均达标"),
    "verdict.holds_some": ("HOLDS in {met} of {n} townships", "承诺成立：{n} 个镇街中 {met} 个达标，其余无法判定"),
    "verdict.holds_district": ("HOLDS for the district (targets judged district-wide only)", "承诺成立：全区达标（仅按全区口径评判）"),
    "verdict.breaks_in": ("BREAKS in {k} of {n} townships", "承诺不成立：{n} 个镇街中 {k} 个未达标"),
    "verdict.breaks_district": ("BREAKS for the district as a whole ({what})", "承诺不成立：全区整体未达标（{what}）"),
    "verdict.district": ("district {rate}{ci} on site within {target} min", "全区 {target} 分钟内到场率 {rate}{ci}"),
    "verdict.district_misses": (" (district misses {what})", "（全区未达标：{what}）"),
    "verdict.undecided_list": ("{k} undecided, not enough reports: {names}", "{k} 个镇街上报数不足、无法判定：{names}"),
    "verdict.undecided": ("UNDECIDED: too few reports to judge even the district ({n}; at least {need} needed): "
                          "{district}; run more replications or days",
                          "无法判定：全区上报数不足（{n} 件，至少需 {need} 件）：{district}；请增加重复次数或模拟天数"),
    "verdict.no_reports": ("NO REPORTS: no promise-bearing report was drawn in this run; nothing to judge",
                           "无上报：本次模拟未产生适用承诺的上报，无从评判"),
    "verdict.no_targets": ("NO TARGETS SET: {district}", "未设定目标：{district}"),
    "verdict.not_shown": ("not shown on the interval: {what}", "区间下限未达标：{what}"),
    "verdict.missed": ("missed: {what}", "未达标：{what}"),
    "target.on_time_rate": ("on-time rate", "按时到场率"),
    "target.p90_response": ("p90 response", "90% 分位响应时间"),
    "target.p95_response": ("p95 response", "95% 分位响应时间"),
    "status.met": ("meets", "达标"),
    "status.missed": ("MISSES", "未达标"),
    "status.not_shown": ("NOT SHOWN", "未证实达标"),
    "status.undecided": ("not enough reports", "上报数不足"),
    "status.none": ("–", "–"),
    # late causes
    "cause.waited_for_crew": ("waited for a crew", "等待空闲队伍"),
    "cause.served_by_far_team": ("served by a far team", "由较远队伍处置"),
    "cause.long_travel": ("long travel", "路程过长"),
    "cause.slow_dispatch": ("slow dispatch", "派遣过慢"),
    "cause.open_at_horizon": ("still open at the end", "模拟结束仍未到场"),
    # banners
    "banner.standin": ("STAND-IN road network (generated, not real roads): results are not planning results. "
                       "Import or download the real Nanhu road graph (README: \"Getting the Nanhu road graph\") "
                       "before drawing conclusions.",
                       "替代路网（程序生成，并非真实道路）：结果不能作为规划依据。请先导入或下载南湖区真实路网"
                       "（见 README“获取南湖区路网”）再下结论。"),
    "banner.unverified": ("Base coordinates are UNVERIFIED estimates (±2 km) for: {names}. Replace them before relying "
                          "on these teams' figures.",
                          "以下队伍驻地坐标为未核实的估计值（±2 公里）：{names}。依赖这些队伍的结果前请先替换。"),
    # page
    "page.title": ("dispatch_sim — {name}", "dispatch_sim — {name}"),
    "page.run_line": ("{reps} replications × {days} days (first {warm} day(s) warm-up), seed {seed}, load ×{load}, "
                      "policy <b>{policy}</b>. Response p50 {p50} min, p90 {p90} min (95% CI {p90lo}–{p90hi}), "
                      "p95 {p95} min, max {max} min.",
                      "{reps} 次重复 × {days} 天（前 {warm} 天为预热），随机种子 {seed}，负荷 ×{load}，调度策略 <b>{policy}</b>。"
                      "响应时间中位数 {p50} 分钟，90% 分位 {p90} 分钟（95% 置信区间 {p90lo}–{p90hi}），95% 分位 {p95} 分钟，"
                      "最长 {max} 分钟。"),
    "h.townships": ("By township (home team of the report's place)", "分镇街结果（按事发地所属镇街）"),
    "p.townships": ("The promise is made by each township to its own residents: every target is judged for every "
                    "township.", "30 分钟到场承诺由各镇街对本辖区居民作出：每项目标都按镇街逐一评判。"),
    "p.met_line": ("{met} of {n} townships meet every target, {missed} miss, {und} have too few reports to judge "
                   "(fewer than {need}).",
                   "{n} 个镇街中 {met} 个全部达标，{missed} 个未达标，{und} 个上报数不足 {need} 件、无法判定。"),
    "th.team": ("township team", "镇街执法队"),
    "th.promise": ("promise", "承诺"),
    "th.reports": ("reports", "上报数"),
    "th.on_time": ("on time", "按时率"),
    "th.ci": ("95% CI", "95% 置信区间"),
    "th.p90": ("p90 min", "90% 分位（分钟）"),
    "th.wait95": ("wait p95 min", "等待 95% 分位（分钟）"),
    "th.wait99": ("wait p99 min", "等待 99% 分位（分钟）"),
    "th.waitmax": ("wait max min", "最长等待（分钟）"),
    "th.busy": ("busy", "出勤占用率"),
    "th.committed": ("committed", "含返程占用率"),
    "th.served_by_others": ("served by others", "由他队处置"),
    "th.helped_others": ("helped others", "支援他队"),
    "p.busy_note": ("Busy: share of on-duty time a crew is unavailable (driving to a report and on site). Committed: "
                    "busy plus driving back to base, when it can be sent on. Wait: from the platform's dispatch to a "
                    "crew being sent.",
                    "出勤占用率：在岗时间中队伍无法接受派遣的比例（前往现场和现场处置）。含返程占用率：另加返回驻地途中"
                    "（途中仍可改派）。等待：平台派单到队伍出发之间的时间。"),
    "h.targets": ("Targets", "目标"),
    "p.targets": ("District rows, and every township row that is not met.", "列出全区结果以及所有未达标的镇街。"),
    "th.area": ("area", "范围"),
    "th.target": ("target", "目标"),
    "th.required": ("required", "要求"),
    "th.estimate": ("estimate", "估计值"),
    "th.judged": ("judged value", "评判值"),
    "th.result": ("result", "结果"),
    "area.district": ("district", "全区"),
    "no_targets": ("no targets set", "未设定目标"),
    "rule.intro": ("Rule: every target is judged for every township and for the district", "规则：每项目标按各镇街和全区分别评判"),
    "rule.scope_district": (" (scope: district: district-wide only)", "（范围：仅全区）"),
    "rule.min": ("; an area with fewer than {need} promise-bearing reports is undecided; ",
                 "；适用承诺的上报少于 {need} 件的范围视为无法判定；"),
    "rule.lower": ("the on-time rate is judged on the lower end of its 95% interval and response quantiles on the upper "
                   "end, so a target is met only when the reports show it",
                   "按时率按 95% 置信区间下限评判，响应时间分位数按区间上限评判，即只有数据能证明时才算达标"),
    "rule.point": ("targets are judged on the estimates", "按估计值评判"),
    "rule.end": (". The promise HOLDS when no target is missed anywhere.", "。任何范围均无未达标时，承诺成立。"),
    "h.causes": ("Why reports were late", "迟到原因"),
    "th.cause": ("cause", "原因"),
    "h.map": ("Map: roads, townships, on-time cells and late reports", "地图：路网、镇街辖区、按时率网格和迟到上报"),
    "p.map": ("Zoom with the mouse wheel or the buttons, drag to pan, click a late report or a cell. The map is drawn "
              "from the road graph in this file: it needs no internet connection.",
              "滚轮或按钮缩放，拖动平移，点击迟到上报或网格查看详情。地图由本文件内的路网绘制，无需联网。"),
    "h.where": ("Where (static map, for print)", "分布（静态图，供打印）"),
    "h.breaks": ("Where the circle breaks", "处置圈薄弱点"),
    "p.breaks": ("Simulated on-time rate per grid cell (cells.geojson). The places with the strongest evidence of "
                 "missing the target, ranked by the probability that their true on-time rate is below it (so a rural "
                 "cell with 3 reports and 2 late shows, and a busy cell with one late report in 200 does not):",
                 "按网格统计的模拟按时率（cells.geojson）。按“真实按时率低于目标”的概率排序，列出最可能未达标的地点"
                 "（因此 3 件中 2 件迟到的农村网格会列出，而 200 件中 1 件迟到的繁忙网格不会）："),
    "th.place": ("place (township: nearest named road, or distance from its base)", "地点（镇街：最近的有名道路，或距驻地的方向和距离）"),
    "th.late": ("late", "迟到"),
    "th.p_below": ("P(rate below target)", "低于目标的概率"),
    "th.main_cause": ("main late cause", "主要迟到原因"),
    "no_late": ("no late report with the promise", "无适用承诺的迟到上报"),
    "p.breaks_note": ("Promise-bearing reports after the warm-up, as in every rate on this page; {n} late report(s) "
                      "without the promise are not counted here.",
                      "与本页所有比率相同，仅统计预热期后适用承诺的上报；另有 {n} 件不适用承诺的迟到上报未计入。"),
    "h.aid": ("Help across township lines", "跨镇街支援"),
    "th.helper": ("helper → home team", "支援队 → 属地队"),
    "th.crew_hours": ("crew-hours", "队组工时"),
    "th.per_day": ("per day", "每日"),
    "none": ("none", "无"),
    "p.aid_note": ("Crew time from dispatch to clearing the scene; the drive back is not counted.",
                   "队组工时从派遣起算至现场处置完毕，不含返程。"),
    "h.fast": ("How fast", "响应速度"),
    "h.when": ("When", "时段"),
    "h.crews": ("Crews", "队组"),
    "h.accounting": ("Accounting", "数量核对"),
    "p.accounting": ("{total} reports arrived = {served} served + {open} still open at the horizon. {warm} in the "
                     "warm-up and {np} without the promise are not in the rates; {cens} open reports younger than the "
                     "target have no outcome yet.",
                     "共 {total} 件上报 = {served} 件已到场 + {open} 件模拟结束时仍未到场。预热期 {warm} 件和不适用承诺的 "
                     "{np} 件不计入比率；{cens} 件未满目标时限的未到场上报尚无结果。"),
    "h.graph": ("Road graph", "路网"),
    "p.graph": ("{kind}: {nodes} nodes, {edges} edges; {source}. Dropped while cleaning: {dropped} nodes outside the "
                "largest strongly connected component.",
                "{kind}：{nodes} 个节点，{edges} 条边；{source}。清理时删除最大强连通分量以外的节点 {dropped} 个。"),
    "h.assumptions": ("Assumptions", "假设"),
    "none_listed": ("none listed", "未列出"),
    "p.provenance": ("Generated by dispatch_sim {version} on {date} from {file} (scenario hash {hash}).",
                     "由 dispatch_sim {version} 于 {date} 根据 {file} 生成（场景哈希 {hash}）。"),
    "p.sources": ("Team base coordinates: GeoNames (CC BY 4.0) where a geonameid is cited.",
                  "队伍驻地坐标：注明 geonameid 者来自 GeoNames（CC BY 4.0）。"),
    "backup": (" (backup)", "（后备）"),
    "district_team": (" (district team)", "（区级队伍）"),
    "area_team": (" (own area: polygon)", "（独立辖区）"),
    # the enforcement system (issue 18)
    "h.system": ("Enforcement system: scenic area, district teams, referrals, joint checks, planned inspections",
                 "执法体系：景区队伍、区级队伍、案件移送、联合检查、专项检查"),
    "p.area_teams": ("Teams with their own area (a polygon, e.g. the scenic area) take the reports inside it ahead of "
                     "the township around it and are judged in their own row above: {names}.",
                     "拥有独立辖区（多边形，如南湖景区）的队伍优先处置辖区内的上报，并在上表中单独评判：{names}。"),
    "p.staffing": ("Crews from the staff split: {total} crews at the busiest time, {share} moved down to township level: "
                   "{town} township-level and {dist} district-level crews{fixed}.",
                   "按人员下沉比例推算队组：高峰时段共 {total} 个队组，下沉比例 {share}：镇街层级 {town} 个、区级 {dist} 个{fixed}。"),
    "p.staffing_fixed": ("; kept as written: {names}", "；按原设定保留：{names}"),
    "h.district": ("District teams (\"1+6\")", "区级队伍（“1+6”）"),
    "th.district_team": ("district team", "区级队伍"),
    "th.crews": ("crews", "队组"),
    "th.backs_up": ("backs up townships", "支援镇街"),
    "th.handles": ("matters it owns", "主管事项"),
    "th.referrals_served": ("referrals served", "处置移送案件"),
    "th.township_served": ("township reports served", "处置镇街上报"),
    "th.joint_crews": ("crews sent to joint checks", "参加联合检查队组次"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "h.referred": ("Referred reports (案件移送), shown apart", "移送案件（单独统计）"),
    "p.referred": ("{n} report(s) outside the townships' delegated list were referred to the district team that owns "
                   "them ({served} on site by the end). The 30-minute promise does NOT apply to referred reports: they "
                   "are not in any on-time rate on this page. From the report: p50 {p50} min, p90 {p90} min; after the "
                   "referral: p50 {a50} min, p90 {a90} min. By team: {by}.",
                   "{n} 件不在镇街赋权清单内的事项已移送主管的区级队伍（模拟结束时 {served} 件已到场）。30 分钟到场承诺"
                   "不适用于移送案件，本页所有按时率均不含这些案件。自上报起：中位数 {p50} 分钟，90% 分位 {p90} 分钟；"
                   "自移送完成起：中位数 {a50} 分钟，90% 分位 {a90} 分钟。按队伍：{by}。"),
    "h.joint": ("Joint checks (联合检查)", "联合检查"),
    "p.joint": ("{n} joint check(s) needed crews of more than one team ({on} with every crew on site). A joint check "
                "is on site when the LAST required crew has arrived: that arrival is what the promise counts. First "
                "crew on site: p50 {f50} min, p90 {f90} min; last crew: p50 {l50} min, p90 {l90} min after the report. "
                "On time (last arrival): {rate}{ci}. Crews sent by team: {by}.",
                "{n} 次联合检查需要多支队伍的队组（其中 {on} 次所有队组均已到场）。联合检查以最后一个所需队组到场为“到场”，"
                "承诺按此计算。首个队组到场：中位数 {f50} 分钟、90% 分位 {f90} 分钟；最后一个队组：中位数 {l50} 分钟、"
                "90% 分位 {l90} 分钟（自上报起）。按时率（按最后到场计）：{rate}{ci}。各队派出队组次：{by}。"),
    "h.planned": ("Planned inspections (专项检查与抽查)", "专项检查与抽查"),
    "p.planned": ("{sessions} team-session(s) of planned inspections per replication took {hours} crew-hours out of "
                  "reactive service in all ({per_day} per simulated day); {objects} objects inspected per replication. "
                  "Recall of planned crews for urgent reports: {recall}; {recalls} recall(s). By team (crew-hours): {by}.",
                  "每次重复运行中共有 {sessions} 个队伍场次的专项检查，合计占用 {hours} 队组工时（每模拟日 {per_day}）"
                  "不参与即时处置；每次重复运行检查对象 {objects} 家。紧急上报可召回检查中的队组：{recall}；召回 {recalls} 次。"
                  "按队伍（队组工时）：{by}。"),
    # map
    "map.roads": ("roads", "道路"),
    "map.jurisdictions": ("township areas", "镇街辖区"),
    "map.cells": ("on-time cells", "按时率网格"),
    "map.late": ("late reports", "迟到上报"),
    "map.bases": ("bases", "驻地"),
    "map.reset": ("whole district", "全区"),
    "map.hint": ("wheel: zoom · drag: pan · click: details", "滚轮缩放 · 拖动平移 · 点击查看"),
    "map.sampled": ("({shown} of {total} late reports shown)", "（显示 {total} 件迟到上报中的 {shown} 件）"),
    "map.id": ("report (replication/id)", "上报（重复/编号）"),
    "map.time": ("reported", "上报时间"),
    "map.township": ("township", "镇街"),
    "map.crew": ("crew", "队组"),
    "map.response": ("response", "响应时间"),
    "map.cause": ("late cause", "迟到原因"),
    "map.reports": ("reports", "上报数"),
    "map.on_time": ("on time", "按时率"),
    "map.unverified": ("unverified", "未核实"),
    "map.attr_standin": ("STAND-IN road network (generated, not real roads): not planning results",
                         "替代路网（程序生成，并非真实道路）：结果不能作为规划依据"),
    "map.attr_osm": ("Road data © OpenStreetMap contributors (ODbL)", "道路数据 © OpenStreetMap 贡献者（ODbL 许可）"),
    "graph.stand-in": ("stand-in", "替代路网"),
    # figures (dispatch_sim.plot)
    "fig.map_title": ("Bases, jurisdictions and reports", "执法队驻地、辖区与上报事件"),
    "fig.on_time_n": ("on time ({n})", "按时到场（{n}）"),
    "fig.late_n": ("late ({n})", "超时（{n}）"),
    "fig.late_np_n": ("late, no 30-min promise ({n})", "超时但不适用 30 分钟承诺（{n}）"),
    "fig.unverified": (" (unverified)", "（位置未核实）"),
    "fig.bases": ("Bases", "执法队驻地"),
    "fig.new_post": ("proposed post", "拟设执法点"),
    "fig.lon": ("longitude", "经度"),
    "fig.lat": ("latitude", "纬度"),
    "fig.standin": ("STAND-IN road network (generated, not real roads): results are not planning results",
                    "替代路网（程序生成，并非真实道路）：结果不能作为规划依据"),
    "fig.osm": ('Road data © OpenStreetMap contributors (ODbL)', "道路数据 © OpenStreetMap 贡献者（ODbL）"),
    "fig.cdf_all": ("all replications", "全部重复运行"),
    "fig.cdf_range": ("range across replications (2.5–97.5%)", "各次重复运行的范围（2.5–97.5%）"),
    "fig.promise": ("{m:g}-minute promise", "{m:g} 分钟到场承诺"),
    "fig.cdf_x": ("minutes from report to crew on site", "从上报到执法人员到场（分钟）"),
    "fig.share_reports": ("share of reports", "上报事件占比"),
    "fig.cdf_title": ("Response time distribution", "响应时间分布"),
    "fig.hour_x": ("hour of day (report time)", "上报时刻（时）"),
    "fig.on_time_rate": ("on-time rate", "按时到场率"),
    "fig.hour_title": ("On-time rate by hour (95% Wilson intervals)", "各时段按时到场率（95% Wilson 区间）"),
    "fig.target_rate": ("target {r:.0%}", "目标 {r:.0%}"),
    "fig.util_x": ("share of on-duty time", "占在岗时间的比例"),
    "fig.util_busy": ("busy (travel to scene + on scene)", "忙碌（赶赴现场 + 现场处置）"),
    "fig.util_committed": ("committed (busy + drive back to base)", "占用（忙碌 + 返回驻地）"),
    "fig.util_title": ("Crew utilization by team", "各执法队车组利用率"),
    "fig.stress_rate": ("district on-time rate", "全区按时到场率"),
    "fig.ci95": ("95% interval", "95% 区间"),
    "fig.target": ("target", "目标"),
    "fig.breaking_point": ("promise breaks (first township) above ×{bp:g}", "负荷超过 {bp:g} 倍时承诺被打破（首个镇街）"),
    "fig.load_x": ("load (× baseline reports per day)", "负荷（基准日均上报量的倍数）"),
    "fig.cells_load_title": ("On-time rate per {cell} m cell at load ×{load}", "负荷 ×{load} 时每 {cell} 米网格的按时到场率"),
    "fig.stress_district": ("District (common random numbers)", "全区（共同随机数）"),
    "fig.stress_holds": ("{label}: holds to ×{b:g}", "{label}：{b:g} 倍负荷内达标"),
    "fig.stress_none": ("{label}: not demonstrated", "{label}：未证实达标"),
    "fig.stress_teams": ("Each township team's own reports", "各镇（街道）执法队辖区内的上报"),
    "fig.stress_judged": (
        "Each township: judged on-time rate (lower 95% bound); × = first miss",
        "各镇街：评判用按时到场率（95% 区间下限）；× = 首次未达标"),
    "fig.reach_cb": (
        "minutes from report to arrival, 90% of cases (target {m:g}: black line)",
        "从上报到到场的分钟数（90% 的情况；目标 {m:g} 分钟：黑线）"),
    "fig.reach_beyond": ("{share:.0%} of cells beyond {m:g} min (red outline)", "{share:.0%} 的网格超过 {m:g} 分钟（红框）"),
    "fig.reach_title": (
        "Promise reach: report to arrival ({band}; dispatch delay + turnout + drive)",
        "承诺可达范围：从上报到到场（{band}；派单 + 出发准备 + 行车）"),
    "fig.cells_cb": ("share of reports on site in time", "按时到场的上报占比"),
    "fig.cells_target": (" (target {r:.0%})", "（目标 {r:.0%}）"),
    "fig.cells_title": (
        "On-time rate per {c:g} m cell (simulated; opacity = reports)",
        "每 {c:g} 米网格的按时到场率（模拟；不透明度 = 上报量）"),
    "fig.expected_reports": ("expected reports", "预期上报量"),
    "fig.compare_x": (
        "on-time rate (95% interval); right margin: significant paired change B − A, points",
        "按时到场率（95% 区间）；右侧：显著的配对差值 B − A（百分点）"),
    "fig.compare_title": ("B − A district: {d:+.1f} points — {decision}", "B − A 全区：{d:+.1f} 个百分点 — {decision}"),
    "fig.placement_title": (
        "Proposal ({mode}): demand within {budget:g} min drive of a base {c0:.1%} → {c1:.1%}\n"
        "of two bases {t0:.1%} → {t1:.1%}; within {half:g} min {h0:.1%} → {h1:.1%}",
        "方案（{mode}）：驻地 {budget:g} 分钟车程内的需求 {c0:.1%} → {c1:.1%}\n"
        "两个驻地可达 {t0:.1%} → {t1:.1%}；{half:g} 分钟内 {h0:.1%} → {h1:.1%}"),
    "fig.staff_today": ("today", "现状"),
    "fig.staff_proposed": ("proposed", "建议"),
    "fig.staff_bound": ("queueing lower bound", "排队论下限"),
    "fig.staff_x": ("crews on duty", "在岗队组数"),
    "fig.staff_title": (
        "Fewest crews keeping every township on target at load ×{load:g}: {today:.0f} → {proposed:.0f} crew-hours a day",
        "负荷 ×{load:g} 下使每个镇街达标的最少队组：每日 {today:.0f} → {proposed:.0f} 队组工时"),

    # calibration page (dispatch-sim calibrate)
    "cal.title": ("Calibration — {name}", "参数标定 — {name}"),
    "cal.intro": ("Every value of the calibrated scenario against the log it was fitted to; base scenario: {base}. "
                  "Judge each fit by its figure: a good fit follows the grey data.",
                  "标定场景的每个参数与其所依据的上报记录对照；基础场景：{base}。请对照图形判断拟合是否可信：好的拟合应贴合灰色数据。"),
    "cal.h_log": ("The log and what was set aside", "上报记录与剔除情况"),
    "cal.log_line": ("{rows} rows read: {used} used, {q} quarantined (encoding {enc}; coordinates {crs}: {how}).",
                     "共读取 {rows} 行：使用 {used} 行，隔离 {q} 行（编码 {enc}；坐标系 {crs}：{how}）。"),
    "cal.th_reason": ("reason for quarantine", "隔离原因"),
    "cal.th_note": ("cells treated as missing", "按缺失处理的单元格"),
    "cal.quarantine_file": ("Every quarantined row, with its line number and reason, is in quarantine.csv.",
                            "每一条被隔离的记录（含行号与原因）见 quarantine.csv。"),
    "cal.h_rate": ("Reports per day", "日均上报量"),
    "cal.rate_line": ("{rate} reports per day (95% CI {lo}–{hi}) from {n} reports over {days} days; variance/mean of daily "
                      "counts {disp} (1 = Poisson).",
                      "日均 {rate} 件（95% 置信区间 {lo}–{hi}），依据 {days} 天内 {n} 件上报；日上报量方差/均值 {disp}（泊松为 1）。"),
    "cal.independence": ("Hour × weekday independence (G-test on 4-hour blocks): G = {g}, p = {p}; a small p means the "
                         "hour profile differs between weekdays.",
                         "小时 × 星期独立性检验（4 小时分段 G 检验）：G = {g}，p = {p}；p 很小说明不同星期几的小时分布不同。"),
    "cal.h_profile": ("When reports come: hour of day and weekday", "上报时间分布：按小时与星期"),
    "cal.h_daily": ("Reports per day over the log", "记录期内每日上报量"),
    "cal.h_towns": ("Townships", "各镇街"),
    "cal.th_share": ("share", "占比"),
    "cal.th_log_town": ("by the log's township column", "按记录中的所属镇街"),
    "cal.towns_note": ("Reports are counted by the scenario's jurisdiction of their place; share of reports whose township "
                       "column names the same township: {agree}.",
                       "按上报地点所属的场景辖区计数；记录中“所属镇街”与辖区一致的比例：{agree}。"),
    "cal.h_cats": ("Categories and on-scene work time", "事件类型与现场处置时间"),
    "cal.th_cat": ("category", "事件类型"),
    "cal.th_family": ("fitted family", "拟合分布"),
    "cal.th_mean": ("mean (min)", "均值（分钟）"),
    "cal.th_n": ("records", "记录数"),
    "cal.kept": ("kept from the base", "沿用基础场景"),
    "cal.pooled": ("too few records: pooled with off-peak", "记录不足：与平峰合并"),
    "cal.fit_note": ("Work time = close − arrival. Exponential, lognormal and gamma are fitted by maximum likelihood and "
                     "the lowest AIC wins; the mean's interval is a t-interval on the records.",
                     "处置时间 = 办结 − 到场。对指数、对数正态、伽马分布做极大似然拟合，取 AIC 最小者；均值区间为 t 区间。"),
    "cal.h_durations": ("Fits against the data: work times and dispatch delay", "拟合与数据对照：处置时间与派遣延迟"),
    "cal.h_delay": ("Dispatch delay", "派遣延迟"),
    "cal.delay_line": ("Dispatch − report on {n} of {all} dispatched reports whose team had no other job open: {best}, "
                       "mean {mean} min (95% CI {ci}).",
                       "在 {all} 件已派遣上报中，取队伍无其他在办任务的 {n} 件计算“派遣 − 上报”：{best}，均值 {mean} 分钟（95% 置信区间 {ci}）。"),
    "cal.h_travel": ("Turnout and road speeds", "出车准备与道路车速"),
    "cal.travel_line": ("Arrival − dispatch of {n} jobs started from base = turnout + routed drive ÷ speed factor; turnout "
                        "{turnout} min (95% CI {ci}).",
                        "{n} 件从驻地出发任务的“到场 − 派遣” = 出车准备 + 路网行驶时间 ÷ 车速系数；出车准备 {turnout} 分钟（95% 置信区间 {ci}）。"),
    "cal.th_band": ("time band", "时段"),
    "cal.th_factor": ("speed factor (× the base's speeds)", "车速系数（× 基础场景车速）"),
    "cal.travel_note": ("Robust (Huber) regression, intervals by bootstrap. Factors are per time band; per road class they "
                        "are not identified from report times (that needs GPS tracks).",
                        "稳健（Huber）回归，区间由自助法得到。系数按时段估计；仅凭上报时间无法按道路等级区分（需 GPS 轨迹）。"),
    "cal.h_places": ("Where reports were made", "上报地点"),
    "cal.h_notes": ("Notes", "说明"),
    "cal.howto": ("The calibrated scenario extends the base; each value in it carries its record count and interval as a "
                  "comment. Check it with dispatch-sim backtest before planning with it.",
                  "标定场景继承基础场景；其中每个参数均以注释注明记录数与区间。用于规划前请先用 dispatch-sim backtest 回测。"),
    # backtest page (dispatch-sim backtest)
    "bt.title": ("Backtest — {name}", "回测 — {name}"),
    "bt.agrees": ("Model and record agree within chance in all {n} areas tested",
                  "模型与记录在全部 {n} 个检验范围内的差异均在随机波动之内"),
    "bt.disagrees": ("Model and record DISAGREE beyond chance in: {areas}", "模型与记录存在超出随机波动的差异：{areas}"),
    "bt.intro": ("The logged reports (times, places, categories as recorded, {days} days from the Monday {monday}) were "
                 "replayed {reps} times through the model (seed {seed}); delays, turnout and work times are drawn from "
                 "the scenario.",
                 "将记录中的上报（按记录的时间、地点与类型，自 {monday}（周一）起 {days} 天）在模型中重放 {reps} 次（随机种子 {seed}）；"
                 "派遣延迟、出车准备与处置时间按场景抽样。"),
    "bt.h_areas": ("Observed against simulated, by township", "各镇街：记录值与模拟值对照"),
    "bt.th_arrivals": ("with arrival time", "有到场时间"),
    "bt.th_obs": ("observed", "记录"),
    "bt.th_sim": ("simulated", "模拟"),
    "bt.th_p90": ("p90 observed / simulated (min)", "90% 分位 记录/模拟（分钟）"),
    "bt.st_tested": ("agrees", "一致"),
    "bt.st_flag": ("DISAGREES", "不一致"),
    "bt.st_too_few": ("too few to tell", "记录过少，无法判断"),
    "bt.st_no_data": ("no arrival times", "无到场时间"),
    "bt.method": ("On-time rate: observed (Wilson 95% interval) against the spread over replays (predictive 95%); "
                  "response times: KS distance, judged against the distances between replays. All p-values of the "
                  "backtest are Holm-adjusted together; beyond chance = adjusted p < 0.05.",
                  "按时到场率：记录值（Wilson 95% 区间）对照各次重放的分布（95% 预测区间）；响应时间：KS 距离，与重放之间的距离比较。"
                  "全部 p 值统一做 Holm 校正；超出随机波动 = 校正后 p < 0.05。"),
    "bt.h_on_time": ("On-time rate: record against model", "按时到场率：记录与模型"),
    "bt.h_cdf": ("Response-time distributions", "响应时间分布"),
    "bt.h_demand": ("Reports: record against the scenario's demand", "上报量：记录与场景需求"),
    "bt.th_observed": ("in the log", "记录数"),
    "bt.th_expected": ("expected by the scenario", "场景期望数"),
    "bt.th_ratio": ("ratio", "比值"),
    "bt.h_util": ("Utilization where the log allows", "队伍繁忙度（记录允许时）"),
    "bt.th_jobs": ("jobs with a close time", "有办结时间的任务"),
    "bt.util_note": ("Observed: dispatch to close over on-duty time (the scenario's shifts); simulated: the same in the replays.",
                     "记录值：派遣至办结时长 ÷ 在岗时长（按场景班次）；模拟值：重放中的同一指标。"),
    "fig.cal_no_data": ("no data", "无数据"),
    "fig.cal_observed": ("observed", "记录"),
    "fig.cal_fitted": ("fitted (smoothed)", "拟合（平滑）"),
    "fig.cal_band95": ("95% band", "95% 区间"),
    "fig.cal_hour": ("hour of day", "时刻（小时）"),
    "fig.cal_day": ("day of the log", "记录第几天"),
    "fig.cal_minutes": ("minutes", "分钟"),
    "fig.cal_weekdays": ("Mon,Tue,Wed,Thu,Fri,Sat,Sun", "一,二,三,四,五,六,日"),
    "fig.cal_hourly_title": ("Hour-of-day profile (mean 1; bandwidth {bw:g} h)", "小时分布（均值为 1；平滑带宽 {bw:g} 小时）"),
    "fig.cal_weekly_title": ("Weekday profile (mean 1, 95% CI)", "星期分布（均值为 1，95% 区间）"),
    "fig.cal_daily_title": ("{rate:.2f} per day (95% CI {lo:.2f}–{hi:.2f}); variance/mean {disp:.2f}",
                            "日均 {rate:.2f} 件（95% 区间 {lo:.2f}–{hi:.2f}）；方差/均值 {disp:.2f}"),
    "fig.cal_work_title": ("work time: {cat}", "处置时间：{cat}"),
    "fig.cal_delay_title": ("dispatch delay", "派遣延迟"),
    "fig.cal_fit_sub": ("n={n}, best {best}, mean {mean:.1f} min, KS D {ks:.3f}", "n={n}，最优 {best}，均值 {mean:.1f} 分钟，KS D {ks:.3f}"),
    "fig.cal_routed": ("routed drive from base on the graph (min)", "路网上自驻地的行驶时间（分钟）"),
    "fig.cal_observed_drive": ("arrival − dispatch in the log (min)", "记录中 到场 − 派遣（分钟）"),
    "fig.cal_travel_title": ("turnout {turnout:.1f} min + drive ÷ factor", "出车准备 {turnout:.1f} 分钟 + 行驶时间 ÷ 系数"),
    "fig.cal_residual": ("residual (min)", "残差（分钟）"),
    "fig.cal_residual_title": ("residuals: sd {sd:.1f}, robust sd {mad:.1f} min", "残差：标准差 {sd:.1f}，稳健标准差 {mad:.1f} 分钟"),
    "fig.cal_points": ("{n} reported places", "{n} 个上报地点"),
    "fig.cal_map_title": ("Reported places (WGS-84)", "上报地点（WGS-84）"),
    "fig.bt_district": ("district", "全区"),
    "fig.bt_observed": ("record", "记录"),
    "fig.bt_simulated": ("model (replays)", "模型（重放）"),
    "fig.bt_on_time_x": ("on site within {target:g} min", "{target:g} 分钟内到场率"),
    "fig.bt_on_time_title": ("On-time rate: record (95% CI) against model (predictive 95%)", "按时到场率：记录（95% 区间）与模型（95% 预测区间）"),
    "fig.bt_reports_x": ("reports in {days:g} days", "{days:g} 天内上报数"),
    "fig.bt_demand_title": ("Reports per township: record against the scenario (95% Poisson interval)",
                            "各镇街上报数：记录与场景期望（95% 泊松区间）"),

    "graph.osm": ("OpenStreetMap", "OpenStreetMap"),
    "graph.file": ("OSM file", "OSM 文件"),
}


class Catalog:
    """Messages of one language: ``cat("key", n=3)``."""

    def __init__(self, lang: str):
        if lang not in LANGS:
            raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
        self.lang = lang
        self._i = 0 if lang == "en" else 1

    def __call__(self, key: str, **kw) -> str:
        text = MESSAGES[key][self._i]
        return text.format(**kw) if kw else text

    def get(self, key: str, default: str) -> str:
        return MESSAGES[key][self._i] if key in MESSAGES else default


def catalog(lang: str = "en") -> Catalog:
    """The message lookup for ``lang`` (``zh`` or ``en``)."""
    return Catalog(lang)
