package api

import (
	"fmt"
	"strings"
)

// Role is what a key may do. Every key has exactly one.
type Role string

// The roles. An agent serves one customer at a time (look-up with contact
// data, no bulk access); an analyst counts, filters, lists and exports with
// names and MSISDNs masked; an admin sees everything unmasked.
const (
	RoleAgent   Role = "agent"
	RoleAnalyst Role = "analyst"
	RoleAdmin   Role = "admin"
)

// Roles lists the roles in the order the matrix shows them.
var Roles = []Role{RoleAgent, RoleAnalyst, RoleAdmin}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) { return parseRole(s) }

// Access returns what role r gets from op (Matrix; Denied if op is
// unknown). The console asks it before showing a page.
func (r Role) Access(op Op) Access { return permission(op).Of(r) }

func parseRole(s string) (Role, bool) {
	for _, r := range Roles {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// Access is what a role gets from an operation.
type Access uint8

// The cells of the matrix.
const (
	Denied  Access = iota // 403
	Allowed               // 200, the answer holds no personal data
	Masked                // 200, names and MSISDNs masked
	Clear                 // 200, names and MSISDNs in clear
)

func (a Access) String() string {
	switch a {
	case Denied:
		return "denied"
	case Allowed:
		return "allowed"
	case Masked:
		return "masked"
	case Clear:
		return "clear"
	}
	return fmt.Sprintf("Access(%d)", a)
}

// Op is one operation of the API: a route, or a route in a format.
type Op string

// The operations. Public ones need no key.
const (
	OpHealth       Op = "GET /healthz"
	OpOpenAPI      Op = "GET /v1/openapi.json"
	OpCustomer     Op = "GET /v1/customers/{id}"
	OpCustomers    Op = "GET /v1/customers"
	OpCustomersCSV Op = "GET /v1/customers?format=csv"
	OpLists        Op = "GET /v1/lists"
	OpList         Op = "GET /v1/lists/{name}"
	OpListCSV      Op = "GET /v1/lists/{name}?format=csv"
	OpSegments     Op = "GET /v1/segments"
	OpModels       Op = "GET /v1/models"
	OpIngestFiles  Op = "GET /v1/ingest/files"
	OpCube         Op = "GET /v1/cube"
	OpCubeMonthly  Op = "GET /v1/cube/monthly"
	OpCubeUsage    Op = "GET /v1/cube/usage"

	OpCampaignCreate      Op = "POST /v1/campaigns"
	OpCampaigns           Op = "GET /v1/campaigns"
	OpCampaign            Op = "GET /v1/campaigns/{id}"
	OpCampaignContacts    Op = "GET /v1/campaigns/{id}/contacts"
	OpCampaignContactsCSV Op = "GET /v1/campaigns/{id}/contacts?format=csv"
	OpCampaignResults     Op = "GET /v1/campaigns/{id}/results"
	OpCampaignsResults    Op = "GET /v1/campaign-results"
	OpCustomerOffers      Op = "GET /v1/customers/{id}/offers"

	OpSurvival       Op = "GET /v1/lifecycle/survival"
	OpTransitions    Op = "GET /v1/lifecycle/transitions"
	OpCauses         Op = "GET /v1/churn/causes"
	OpTracking       Op = "GET /v1/models/tracking"
	OpGroupCreate    Op = "POST /v1/groups"
	OpGroups         Op = "GET /v1/groups"
	OpGroup          Op = "GET /v1/groups/{id}"
	OpGroupDelete    Op = "DELETE /v1/groups/{id}"
	OpValueTiers     Op = "GET /v1/value/tiers"
	OpForecast       Op = "GET /v1/forecast"
	OpScenarioCreate Op = "POST /v1/scenarios"
	OpScenarios      Op = "GET /v1/scenarios"
	OpScenario       Op = "GET /v1/scenarios/{id}"
	publicAccessNote    = "public (no key)"
)

// Permission is one row of the role × operation matrix.
type Permission struct {
	Op      Op
	Public  bool // no key needed; the role columns do not apply
	Agent   Access
	Analyst Access
	Admin   Access
}

// Of returns the access of role r.
func (p Permission) Of(r Role) Access {
	switch r {
	case RoleAgent:
		return p.Agent
	case RoleAnalyst:
		return p.Analyst
	case RoleAdmin:
		return p.Admin
	}
	return Denied
}

// Matrix is the role × operation matrix, the single source of truth the
// handler enforces (and the OpenAPI description repeats; a test keeps the
// two equal).
//
// Agents may read segments because the 360° view names the customer's
// segment and its profile explains it; segments are aggregates. Models and
// ingest files are operational data for analysts and admins. Lists are bulk
// customer data, so agents get none of them, not even the index. The cube
// is aggregates over all customers, analysis rather than service: analysts
// and admins, not agents. Campaigns are bulk work on lists: analysts and
// admins create and measure them; their contact lists are customer rows,
// masked for analysts and in clear for admins (who hand the export to the
// call centre), as lists are; metadata and results are aggregates.
// Survival, transitions, churn causes and score tracking are aggregates of
// the scoring run's lifecycle report: analysts and admins, as the cube.
// Saved customer groups are conditions, not customer rows: analysts and
// admins save, list and use them (the owner or an admin deletes one;
// private groups are the owner's and admins'; see groups.go). Value tiers
// are aggregates: analysts and admins. The forecast and what-if scenarios
// are aggregates over groups of customers: analysts and admins (a
// scenario is its owner's and admins' unless shared, see forecast.go).
// Campaign results by channel or offer are aggregates, as one
// campaign's. A customer's next-best offers
// are part of the 360° view: its roles and masking.
var Matrix = []Permission{
	{Op: OpHealth, Public: true},
	{Op: OpOpenAPI, Public: true},
	{Op: OpCustomer, Agent: Clear, Analyst: Masked, Admin: Clear},
	{Op: OpCustomers, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpCustomersCSV, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpLists, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpList, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpListCSV, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpSegments, Agent: Allowed, Analyst: Allowed, Admin: Allowed},
	{Op: OpModels, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpIngestFiles, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCube, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCubeMonthly, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCubeUsage, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCampaignCreate, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCampaigns, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCampaign, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCampaignContacts, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpCampaignContactsCSV, Agent: Denied, Analyst: Masked, Admin: Clear},
	{Op: OpCampaignResults, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpGroupCreate, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpGroups, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpGroup, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpGroupDelete, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpValueTiers, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpSurvival, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpTransitions, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCauses, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpTracking, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpForecast, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpScenarioCreate, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpScenarios, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpScenario, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCampaignsResults, Agent: Denied, Analyst: Allowed, Admin: Allowed},
	{Op: OpCustomerOffers, Agent: Clear, Analyst: Masked, Admin: Clear},
}

func permission(op Op) Permission {
	for _, p := range Matrix {
		if p.Op == op {
			return p
		}
	}
	return Permission{Op: op} // unknown: denied to all
}

// MatrixMarkdown renders Matrix as the Markdown table the OpenAPI
// description carries.
func MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| operation |")
	for _, r := range Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range Roles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, p := range Matrix {
		b.WriteString("| `" + string(p.Op) + "` |")
		for _, r := range Roles {
			if p.Public {
				b.WriteString(" " + publicAccessNote + " |")
				continue
			}
			b.WriteString(" " + p.Of(r).String() + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
