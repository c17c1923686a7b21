package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// dict is one language's strings.
type dict map[string]string

// dicts are the console's languages: English and Simplified Chinese.
var dicts = map[string]dict{
	"en": {
		"title": "telcolake console", "signin": "Sign in", "signout": "Sign out", "user": "User name", "password": "Password",
		"badSignin": "User name or password is wrong.", "search": "Customer search", "lookup": "Look up a customer",
		"subscriberID": "Subscriber id", "open": "Open", "count": "customers match", "counting": "counting…",
		"conditions": "Conditions", "apply": "Search", "clear": "Clear", "sort": "Sort", "export": "Export CSV", "next": "Next page",
		"name": "Name", "msisdn": "MSISDN", "plan": "Plan", "region": "Region", "segment": "Segment", "tenure": "Tenure",
		"months": "months", "churn": "Churn probability", "value": "Monthly value", "clv": "Lifetime value (CLV)",
		"badDebt": "Bad-debt probability", "badDebtReasons": "Why bad-debt risk",
		"var": "Value at risk", "status": "Status", "lifecycle": "Lifecycle", "reasons": "Why", "profile": "Profile",
		"activation": "Customer since", "usage": "Usage and bills, last six months", "minutes": "Voice minutes",
		"data": "Data (MB)", "bills": "Amount billed", "run": "Scoring run", "forbidden": "Your role may not open this page.",
		"notfound": "No such page.", "noCustomer": "No customer with this id in the current scoring run.",
		"csrf": "The form expired or did not come from this console; please try again.", "crossSite": "Cross-site requests are refused.",
		"method": "Method not allowed.", "badForm": "The form could not be read.", "internal": "Something went wrong; it was logged.",
		"back": "Back", "masked": "Names and numbers are masked for your role.", "error": "Error", "role": "Role",
		"noResults": "No customer matches.", "hint": "Lists take comma-separated values; ranges take numbers.",
		"age_band": "Age band", "payment_method": "Payment method", "arrears": "Arrears", "months_in_arrears": "Months in arrears",
		"roaming": "Roaming calls", "care_calls": "Care calls", "defaultSort": "most likely to churn first",
		"lists": "Lists", "list": "List", "size": "Customers",
		"dashboard": "Dashboard", "segments": "Segments", "models": "Models", "ingest": "Ingest monitor",
		"missing": "Not available right now", "customers": "customers", "active": "Active customers",
		"predicted": "Predicted churn rate", "predictedShort": "predicted", "observed": "observed", "varTotal": "Total value at risk",
		"newestAUC": "Newest model's AUC", "churnByMonth": "Churn rate by month",
		"horizonNote": "left within", "month": "Month", "noReports": "No model report to read yet.", "newest": "Newest run",
		"promoted": "Promoted", "notPromoted": "not promoted", "noModels": "No model runs yet.", "ingestHealth": "Ingest health",
		"filesToday": "Files today", "rejectsToday": "Rows rejected today", "quarantined": "Quarantined files", "failed": "Failed files",
		"version": "Version", "kind": "Kind", "algorithm": "Algorithm", "validMonth": "Validation month", "lift": "Top-decile lift",
		"decision": "Decision", "report": "Model report", "validRows": "Validation rows", "trainWindow": "Training window",
		"rocNote": "True against false positive rate; the dashed line is chance.", "gains": "Gains",
		"gainsNote":   "Share of churners found against the share of customers contacted, most likely first.",
		"calibration": "Calibration", "calNote": "Observed churn rate against the predicted probability; the dashed line is perfect.",
		"candidates": "Candidates", "seconds": "Training seconds", "segCalibration": "Calibration per segment",
		"before": "before", "after": "after", "importance": "What the model relies on most", "noReport": "No report for this file.",
		"byDay": "Files by status and day (UTC)", "day": "Day", "rejectedRows": "Rows rejected", "noFiles": "No files yet.",
		"window": "From the newest ingest log rows:", "byReason": "Rejected rows by reason", "column": "Column", "reason": "Reason",
		"files": "Files", "reportsRead": "reports of files with rejected rows read (the newest first)",
		"noLanding": "The landing bucket's reports are not readable from here.", "source": "File", "rowsOK": "Rows taken",
		"started": "Started", "fileReport": "File report", "table": "Table", "duplicates": "Duplicate rows", "message": "Message",
		"warnings": "Warnings", "rows": "Rejected lines", "line": "Line", "rawValue": "Value (masked)",
		"ssoSignin": "Sign in with your organisation's account", "ssoDown": "The sign-in service cannot be reached; try again shortly.",
		"ssoRefused": "The sign-in was not completed.", "noRole": "Your account is in none of the console's groups (agent, analyst, admin).",
		"signedIn": "Signed in", "continue": "Continue",
		"observedMonthly": "Observed: customers who left in the month, of those at its end", "churnedN": "Left",
		"modelVsOutcome": "Predicted against observed, per validation month", "monthly": "monthly figures",
	},
	"zh": {
		"title": "telcolake 客户管理台", "signin": "登录", "signout": "退出", "user": "用户名", "password": "密码",
		"badSignin": "用户名或密码错误。", "search": "客户查询", "lookup": "查找客户",
		"subscriberID": "用户编号", "open": "打开", "count": "位客户符合条件", "counting": "计算中…",
		"conditions": "查询条件", "apply": "查询", "clear": "清除", "sort": "排序", "export": "导出 CSV", "next": "下一页",
		"name": "姓名", "msisdn": "手机号码", "plan": "套餐", "region": "地区", "segment": "客户群", "tenure": "在网时长",
		"months": "个月", "churn": "流失概率", "value": "月价值", "clv": "客户终身价值",
		"badDebt": "坏账概率", "badDebtReasons": "坏账风险原因",
		"var": "风险价值", "status": "状态", "lifecycle": "生命周期", "reasons": "原因", "profile": "群体画像",
		"activation": "入网日期", "usage": "近六个月用量与账单", "minutes": "通话分钟",
		"data": "流量 (MB)", "bills": "账单金额", "run": "评分批次", "forbidden": "您的角色无权打开此页面。",
		"notfound": "页面不存在。", "noCustomer": "本次评分中没有该编号的客户。",
		"csrf": "表单已过期或并非来自本系统，请重试。", "crossSite": "拒绝跨站请求。",
		"method": "不允许的请求方法。", "badForm": "无法读取表单。", "internal": "出现错误，已记录。",
		"back": "返回", "masked": "按您的角色，姓名和号码已脱敏。", "error": "错误", "role": "角色",
		"noResults": "没有符合条件的客户。", "hint": "列表条件用逗号分隔；范围条件填数字。",
		"age_band": "年龄段", "payment_method": "付费方式", "arrears": "欠费金额", "months_in_arrears": "欠费月数",
		"roaming": "漫游通话", "care_calls": "客服来电", "defaultSort": "流失概率从高到低",
		"lists": "名单", "list": "名单", "size": "客户数",
		"dashboard": "总览", "segments": "客户群", "models": "模型", "ingest": "数据接入监控",
		"missing": "暂不可用", "customers": "客户", "active": "在网客户",
		"predicted": "预测流失率", "predictedShort": "预测", "observed": "实际", "varTotal": "风险价值合计",
		"newestAUC": "最新模型 AUC", "churnByMonth": "各月流失率",
		"horizonNote": "流失窗口", "month": "月份", "noReports": "尚无可读的模型报告。", "newest": "最新一次训练",
		"promoted": "已上线", "notPromoted": "未上线", "noModels": "尚无模型训练记录。", "ingestHealth": "接入健康",
		"filesToday": "今日文件", "rejectsToday": "今日拒收行", "quarantined": "隔离文件", "failed": "失败文件",
		"version": "版本", "kind": "类型", "algorithm": "算法", "validMonth": "验证月份", "lift": "前10%提升度",
		"decision": "结论", "report": "模型报告", "validRows": "验证样本数", "trainWindow": "训练区间",
		"rocNote": "真正率对假正率；虚线为随机水平。", "gains": "累积增益",
		"gainsNote":   "按流失可能性从高到低联系客户时，找到的流失客户占比。",
		"calibration": "校准", "calNote": "实际流失率对预测概率；虚线为完全校准。",
		"candidates": "候选模型", "seconds": "训练秒数", "segCalibration": "各客户群校准",
		"before": "校准前", "after": "校准后", "importance": "模型最依赖的特征", "noReport": "该文件没有报告。",
		"byDay": "各日文件状态（UTC）", "day": "日期", "rejectedRows": "拒收行数", "noFiles": "尚无文件。",
		"window": "统计最新的接入记录数：", "byReason": "拒收原因", "column": "字段", "reason": "原因",
		"files": "文件", "reportsRead": "份含拒收行的文件报告已读取（从最新开始）",
		"noLanding": "此处无法读取落地桶中的报告。", "source": "文件", "rowsOK": "接收行数",
		"started": "开始时间", "fileReport": "文件报告", "table": "表", "duplicates": "重复行", "message": "说明",
		"warnings": "警告", "rows": "拒收行", "line": "行号", "rawValue": "值（已脱敏）",
		"ssoSignin": "使用单位账号登录", "ssoDown": "无法连接登录服务，请稍后重试。",
		"ssoRefused": "登录未完成。", "noRole": "您的账号不在本系统的任何用户组（agent、analyst、admin）中。",
		"signedIn": "已登录", "continue": "继续",
		"observedMonthly": "实际：当月离网客户占月末客户的比例", "churnedN": "离网",
		"modelVsOutcome": "各验证月份的预测与实际", "monthly": "月度数据",
	},
}

func init() {
	for lang, d := range dicts {
		d["_lang"] = lang
	}
}

// language is the page's language: ?lang=, else the first of
// Accept-Language that the console has (zh* → Simplified Chinese).
func language(r *http.Request) string {
	switch l := r.URL.Query().Get("lang"); l {
	case "en", "zh":
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.ReplaceAll(params, " ", "") == "q=0" {
			continue
		}
		tag = strings.ToLower(tag)
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

// grouped writes v with n decimals and thousands separators (both locales
// group by three with commas).
func grouped(v float64, n int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', n, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

var funcs = template.FuncMap{
	"pct": func(p float64) string {
		return orDash(p, func() string { return strconv.FormatFloat(p*100, 'f', 1, 64) + "%" })
	},
	"pct2": func(p float64) string {
		return orDash(p, func() string { return strconv.FormatFloat(p*100, 'f', 2, 64) + "%" })
	},
	"money": func(v float64) string { return orDash(v, func() string { return grouped(v, 2) }) },
	"one":   func(v float64) string { return orDash(v, func() string { return grouped(v, 1) }) },
	"dec2":  func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"dec3":  func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) },
	"dec4":  func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) },
	"grouped": func(v any) string {
		switch n := v.(type) {
		case int:
			return grouped(float64(n), 0)
		case int64:
			return grouped(float64(n), 0)
		case float64:
			return grouped(n, 0)
		}
		return fmt.Sprint(v)
	},
	"hasPrefix": strings.HasPrefix,
	// objectKey is an s3:// URL's key, the bucket left off (one landing
	// bucket: its name only widens the ingest monitor's table).
	"objectKey": func(u string) string {
		if rest, ok := strings.CutPrefix(u, "s3://"); ok {
			if _, key, ok := strings.Cut(rest, "/"); ok && key != "" {
				return key
			}
		}
		return u
	},
	"inc":  func(i int) int { return i + 1 },
	"max1": func(n int) int { return max(1, n) },
	"t": func(d dict, key string) string {
		if s, ok := d[key]; ok {
			return s
		}
		return key
	},
	"label": func(d dict, name string) string { return fieldLabel(d, name) },
	"sortLabel": func(d dict, sort string) string {
		field := strings.TrimPrefix(sort, "-")
		base := map[string]string{"churn_probability": "churn", "value_at_risk": "var", "clv": "clv", "monthly_value": "value",
			"tenure_months": "tenure"}[field]
		if base == "" {
			base = field
		}
		if field != sort {
			return fieldLabel(d, base) + " ↓"
		}
		return fieldLabel(d, base) + " ↑"
	},
	"withLang": func(path, lang string) string {
		if strings.HasSuffix(path, "?") {
			return path + "lang=" + lang
		}
		return path + "&lang=" + lang
	},
}

// fieldNames are the people's names of the filter's fields and the
// cubes' dimensions, English and Simplified Chinese, by the API's name
// (ranges by their prefix: churn_min and churn_max are "churn").
var fieldNames = map[string][2]string{
	"churn": {"Churn probability", "流失概率"}, "value": {"Monthly value", "月价值"}, "clv": {"Lifetime value (CLV)", "客户终身价值"},
	"bad_debt": {"Bad-debt probability", "坏账概率"}, "bad_debt_probability": {"Bad-debt probability", "坏账概率"},
	"var": {"Value at risk", "风险价值"}, "tenure": {"Tenure (months)", "在网时长（月）"}, "segment": {"Segment", "客户群"},
	"plan": {"Plan", "套餐"}, "region": {"Region", "地区"}, "status": {"Status", "状态"}, "lifecycle": {"Lifecycle", "生命周期"},
	"data": {"Data (MB)", "流量 (MB)"}, "minutes": {"Voice minutes", "通话分钟"}, "age_band": {"Age band", "年龄段"},
	"payment_method": {"Payment method", "付费方式"}, "arrears": {"Arrears", "欠费金额"}, "months_in_arrears": {"Months in arrears", "欠费月数"},
	"roaming": {"Roaming calls", "漫游通话"}, "care_calls": {"Care calls", "客服来电"}, "gender": {"Gender", "性别"},
	"income_band": {"Income band", "收入档"}, "occupation": {"Occupation", "职业"}, "education": {"Education", "学历"},
	"district": {"District", "区县"}, "value_tier": {"Value tier", "价值层级"}, "sms": {"SMS", "短信"},
	"contacts": {"Distinct contacts", "联系人数"}, "intl": {"International calls", "国际通话"}, "discount": {"Discount", "优惠金额"},
	"credit_use": {"Credit use", "信用额度使用率"}, "minutes_trend": {"Voice minutes trend", "通话分钟趋势"},
	"calls_trend": {"Calls trend", "通话次数趋势"}, "data_trend": {"Data trend", "流量趋势"},
	"contacts_trend": {"Contacts trend", "联系人趋势"}, "spend_trend": {"Spend trend", "消费趋势"}, "profit": {"Monthly profit", "月利润"},
	"group": {"Saved group", "已保存客户组"}, "tenure_band": {"Tenure band", "在网时长段"}, "month": {"Month", "月份"}, "cohort": {"Activation cohort", "入网批次"},
	"uplift": {"Expected retention gain of a contact", "接触带来的预期挽留提升"}, "contact_value": {"Expected net value of a contact", "接触预期净值"},
	"hour": {"Hour (UTC)", "小时（UTC）"}, "day_type": {"Weekday / weekend", "工作日 / 周末"}, "call_kind": {"Call kind", "通话类型"},
}

// fieldLabel names a filter parameter for people: "churn_min" →
// "Churn probability ≥", "not.plan" → "Plan is not".
func fieldLabel(d dict, name string) string {
	zh := d["_lang"] == "zh"
	if b, ok := strings.CutPrefix(name, "not."); ok {
		if zh {
			return fieldLabel(d, b) + " 不是"
		}
		return fieldLabel(d, b) + " is not"
	}
	base, op := name, ""
	if _, ok := fieldNames[name]; !ok {
		if b, ok := strings.CutSuffix(name, "_min"); ok {
			base, op = b, " ≥"
		} else if b, ok := strings.CutSuffix(name, "_max"); ok {
			base, op = b, " ≤"
		}
	}
	n, ok := fieldNames[base]
	if !ok {
		return fmt.Sprintf("%s%s", strings.ReplaceAll(base, "_", " "), op)
	}
	if zh {
		return n[1] + op
	}
	return n[0] + op
}

// orDash is f(), or "–" for a missing number (NaN or ±Inf).
func orDash(v float64, f func() string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return f()
}
