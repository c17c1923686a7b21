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
	},
	"zh": {
		"title": "telcolake 客户管理台", "signin": "登录", "signout": "退出", "user": "用户名", "password": "密码",
		"badSignin": "用户名或密码错误。", "search": "客户查询", "lookup": "查找客户",
		"subscriberID": "用户编号", "open": "打开", "count": "位客户符合条件", "counting": "计算中…",
		"conditions": "查询条件", "apply": "查询", "clear": "清除", "sort": "排序", "export": "导出 CSV", "next": "下一页",
		"name": "姓名", "msisdn": "手机号码", "plan": "套餐", "region": "地区", "segment": "客户群", "tenure": "在网时长",
		"months": "个月", "churn": "流失概率", "value": "月价值", "clv": "客户终身价值",
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
	},
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
	"pct":   func(p float64) string { return strconv.FormatFloat(p*100, 'f', 1, 64) + "%" },
	"money": func(v float64) string { return grouped(v, 2) },
	"one":   func(v float64) string { return grouped(v, 1) },
	"t": func(d dict, key string) string {
		if s, ok := d[key]; ok {
			return s
		}
		return key
	},
	"label": func(d dict, name string) string { return fieldLabel(d, name) },
	"withLang": func(path, lang string) string {
		if strings.HasSuffix(path, "?") {
			return path + "lang=" + lang
		}
		return path + "&lang=" + lang
	},
}

// fieldLabel names a filter parameter for people: "churn_min" →
// "Churn probability ≥".
func fieldLabel(d dict, name string) string {
	base, op := name, ""
	if b, ok := strings.CutSuffix(name, "_min"); ok {
		base, op = b, " ≥"
	} else if b, ok := strings.CutSuffix(name, "_max"); ok {
		base, op = b, " ≤"
	}
	key := map[string]string{"churn": "churn", "value": "value", "clv": "clv", "var": "var", "tenure": "tenure",
		"segment": "segment", "plan": "plan", "region": "region", "status": "status", "lifecycle": "lifecycle", "data": "data",
		"minutes": "minutes", "age_band": "age_band", "payment_method": "payment_method", "arrears": "arrears",
		"months_in_arrears": "months_in_arrears", "roaming": "roaming", "care_calls": "care_calls"}[base]
	if key == "" {
		return fmt.Sprintf("%s%s", strings.ReplaceAll(base, "_", " "), op)
	}
	return d[key] + op
}
